// getpwnam_r through NSS (files, LDAP, sssd, NIS: whatever nsswitch.conf says), on libuv's thread pool
// because an NSS module may block on the network.
#include <errno.h>
#include <pwd.h>
#include <string.h>

#include <string>
#include <vector>

#include "addon.h"

namespace {

class GetpwnamWorker : public Napi::AsyncWorker {
 public:
  GetpwnamWorker(Napi::Env env, std::string name)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), name_(std::move(name)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    std::vector<char> buf(16384);
    for (;;) {
      struct passwd pw;
      struct passwd* result = nullptr;
      int rc = getpwnam_r(name_.c_str(), &pw, buf.data(), buf.size(), &result);
      if (rc == ERANGE && buf.size() < (1u << 20)) {
        buf.resize(buf.size() * 2);
        continue;
      }
      if (result != nullptr) {
        found_ = true;
        passwd_ = pw.pw_passwd != nullptr ? pw.pw_passwd : "";
        uid_ = pw.pw_uid;
      } else if (rc != 0 && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM) {
        // POSIX lets "not found" come back as any of these; only other codes are real failures.
        err_ = rc;
        char msg[256];
        errmsg_ = strerror_r(rc, msg, sizeof msg);
      }
      explicit_bzero(buf.data(), buf.size());
      return;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    auto o = Napi::Object::New(env);
    o.Set("found", Napi::Boolean::New(env, found_));
    if (found_) {
      o.Set("passwd", Napi::String::New(env, passwd_));
      o.Set("uid", Napi::Number::New(env, uid_));
    }
    if (err_ != 0) {
      o.Set("errno", Napi::Number::New(env, err_));
      o.Set("error", Napi::String::New(env, errmsg_));
    }
    explicit_bzero(&passwd_[0], passwd_.size());
    deferred_.Resolve(o);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string name_;
  bool found_ = false;
  std::string passwd_;
  double uid_ = 0;
  int err_ = 0;
  std::string errmsg_;
};

// getpwnam(name: string): Promise<{ found, passwd?, uid?, errno?, error? }>
Napi::Value Getpwnam(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "name must be a string");
  auto* w = new GetpwnamWorker(info.Env(), info[0].As<Napi::String>().Utf8Value());
  auto p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void InitGetpwent(Napi::Env env, Napi::Object exports) {
  exports.Set("getpwnam", Napi::Function::New(env, Getpwnam, "getpwnam"));
}
