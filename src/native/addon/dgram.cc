// One datagram to an AF_UNIX address, with the exact address length. unix-dgram copies the path
// with strncpy and passes sizeof(sockaddr_un), which cannot name an abstract socket ("@name", as
// NOTIFY_SOCKET may be): the kernel compares abstract names over the whole length given.
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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

}  // namespace

void InitDgram(Napi::Env env, Napi::Object exports) {
  exports.Set("sendUnixDatagram", Napi::Function::New(env, SendUnixDatagram));
}
