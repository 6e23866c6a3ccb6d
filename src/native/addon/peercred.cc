// SO_PEERCRED: who is on the other end of a UNIX socket, as the kernel recorded it at connect().
// The daemon logs it per connection and, with --allow-uid/--allow-gid, refuses strangers before
// reading a byte (saslauthd's world-writable socket is a password oracle for every local user).
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <vector>

#include "addon.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59  // Linux 4.13+
#endif

namespace {

// The peer's supplementary groups as recorded at connect() (SO_PEERGROUPS): Postfix reaches the
// socket through a supplementary group (adduser postfix sasl), so the primary gid alone is not enough.
// Reading /proc/<pid>/status instead would race with pid reuse. Empty when the kernel lacks it.
std::vector<gid_t> PeerGroups(int fd) {
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 4; attempt++) {
    socklen_t len = groups.size() * sizeof(gid_t);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      return groups;
    }
    if (errno != ERANGE) return {};
    groups.resize(len / sizeof(gid_t) + 1);
  }
  return {};
}

// SO_PEERCRED of `fd` into `cred`: 0, or the errno (EPROTO for a short result).
int ReadPeerCred(int fd, struct ucred* cred) {
  memset(cred, 0, sizeof *cred);
  socklen_t len = sizeof *cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) != 0) return errno;
  return len == sizeof *cred ? 0 : EPROTO;
}

// peerCredentials(fd: number): { pid, uid, gid, groups }, for --allow-gid, which needs the groups
// (a second system call) — throws with the errno text when getsockopt fails.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "fd must be a number");
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct ucred cred;
  if (int err = ReadPeerCred(fd, &cred); err != 0) {
    Napi::Error e = Napi::Error::New(env, std::string("getsockopt(SO_PEERCRED): ") + strerror(err));
    e.Set("errno", Napi::Number::New(env, err));
    throw e;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  std::vector<gid_t> groups = PeerGroups(fd);
  Napi::Array arr = Napi::Array::New(env, groups.size());
  for (size_t i = 0; i < groups.size(); i++) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, groups[i]));
  out.Set("groups", arr);
  return out;
}

// peerCredentialsInto(fd: number, out: Uint32Array(3)): 0, or -errno. Writes pid, uid, gid. The
// daemon asks this on every accept: building the result object property by property through
// N-API cost more than the system call (6 us per accept in the daemon, issue 15).
Napi::Value PeerCredentialsInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "fd must be a number");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
      info[1].As<Napi::Uint32Array>().ElementLength() < 3) {
    throw Napi::TypeError::New(env, "out must be a Uint32Array of at least 3 elements");
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint32Array out = info[1].As<Napi::Uint32Array>();
  struct ucred cred;
  if (int err = ReadPeerCred(fd, &cred); err != 0) return Napi::Number::New(env, -err);
  out[0] = static_cast<uint32_t>(cred.pid);
  out[1] = cred.uid;
  out[2] = cred.gid;
  return Napi::Number::New(env, 0);
}

}  // namespace

void InitPeerCred(Napi::Env env, Napi::Object exports) {
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
  exports.Set("peerCredentialsInto", Napi::Function::New(env, PeerCredentialsInto, "peerCredentialsInto"));
}
