// AF_UNIX helpers for systemd integration.
// sendUnixDatagram: one datagram with the exact address length. unix-dgram copies the path with
// strncpy and passes sizeof(sockaddr_un), which cannot name an abstract socket ("@name", as
// NOTIFY_SOCKET may be): the kernel compares abstract names over the whole length given.
// inspectListener: what a descriptor passed by socket activation is, before we serve on it.
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "addon.h"

namespace {

// sendUnixDatagram(address: Buffer, data: Buffer): 0 or -errno. The address is sun_path's bytes,
// starting with NUL for an abstract name. Non-blocking: a full receiver yields -EAGAIN.
Napi::Value SendUnixDatagram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsBuffer() || !info[1].IsBuffer()) {
    throw Napi::TypeError::New(env, "sendUnixDatagram(address: Buffer, data: Buffer)");
  }
  auto addr = info[0].As<Napi::Buffer<char>>();
  auto data = info[1].As<Napi::Buffer<char>>();
  sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (addr.Length() == 0 || addr.Length() > sizeof sa.sun_path) {
    return Napi::Number::New(env, -ENAMETOOLONG);
  }
  memcpy(sa.sun_path, addr.Data(), addr.Length());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + addr.Length());
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Napi::Number::New(env, -errno);
  ssize_t r;
  do {
    r = sendto(fd, data.Data(), data.Length(), MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa), len);
  } while (r < 0 && errno == EINTR);
  int err = r < 0 ? -errno : 0;
  close(fd);
  return Napi::Number::New(env, err);
}

// inspectListener(fd): { family, type, path } and sets FD_CLOEXEC (systemd passes descriptors
// without it; helper processes such as PAM's must not inherit our listeners).
Napi::Value InspectListener(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "inspectListener(fd: number)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    throw Napi::Error::New(env, std::string("getsockname: ") + strerror(errno));
  }
  int type = 0;
  socklen_t tlen = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0) {
    throw Napi::Error::New(env, std::string("getsockopt(SO_TYPE): ") + strerror(errno));
  }
  int flags = fcntl(fd, F_GETFD);
  if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  Napi::Object out = Napi::Object::New(env);
  const char* family = ss.ss_family == AF_UNIX ? "unix" : ss.ss_family == AF_INET ? "inet" : ss.ss_family == AF_INET6 ? "inet6" : "other";
  out.Set("family", family);
  out.Set("type", type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "dgram" : type == SOCK_SEQPACKET ? "seqpacket" : "other");
  out.Set("path", env.Null());
  if (ss.ss_family == AF_UNIX) {
    const sockaddr_un* un = reinterpret_cast<const sockaddr_un*>(&ss);
    size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    if (n > 0 && un->sun_path[0] == '\0') {
      out.Set("path", "@" + std::string(un->sun_path + 1, n - 1));
    } else if (n > 0) {
      out.Set("path", std::string(un->sun_path, strnlen(un->sun_path, n)));
    }
  }
  return out;
}

}  // namespace

void InitDgram(Napi::Env env, Napi::Object exports) {
  exports.Set("sendUnixDatagram", Napi::Function::New(env, SendUnixDatagram));
  exports.Set("inspectListener", Napi::Function::New(env, InspectListener));
}
