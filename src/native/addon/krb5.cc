// Kerberos 5 password check through MIT libkrb5: get a TGT with the password, then verify it
// against the keytab (krb5_verify_init_creds) so a KDC that merely *claims* to be the realm's
// cannot say yes. libkrb5 blocks and a krb5_context must not be shared between threads, so each
// call runs on libuv's pool with a context of its own.
#include <krb5.h>
#include <string.h>

#include <memory>
#include <string>
#include <vector>

#include "addon.h"

namespace {

// Where a call stopped; the TypeScript side maps (stage, code) to an outcome.
struct Result {
  std::string stage = "ok";
  krb5_error_code code = 0;
  std::string message;
  std::string keytabName;
  std::string serverPrincipal;
};

// Owns one context and everything made from it, freed in the right order on every path.
class Session {
 public:
  ~Session() {
    if (context_ == nullptr) return;
    if (haveCreds_) krb5_free_cred_contents(context_, &creds_);
    if (opt_ != nullptr) krb5_get_init_creds_opt_free(context_, opt_);
    if (client_ != nullptr) krb5_free_principal(context_, client_);
    if (server_ != nullptr) krb5_free_principal(context_, server_);
    if (keytab_ != nullptr) krb5_kt_close(context_, keytab_);
    krb5_free_context(context_);
  }

  bool Fail(Result& r, const char* stage, krb5_error_code code) {
    r.stage = stage;
    r.code = code;
    if (context_ != nullptr) {
      const char* m = krb5_get_error_message(context_, code);
      r.message = m != nullptr ? m : "";
      krb5_free_error_message(context_, m);
    } else {
      r.message = "krb5_init_context failed";
    }
    return false;
  }

  bool Init(Result& r) {
    krb5_error_code rc = krb5_init_context(&context_);
    if (rc != 0) {
      context_ = nullptr;
      return Fail(r, "context", rc);
    }
    return true;
  }

  // The keytab (null: the default one) and the verify principal `service/host`, as saslauthd makes
  // it with krb5_sname_to_principal; its realm comes from the host's realm mapping.
  bool Server(Result& r, const std::string* keytab, const std::string& service, const std::string* host) {
    krb5_error_code rc = keytab != nullptr ? krb5_kt_resolve(context_, keytab->c_str(), &keytab_) : krb5_kt_default(context_, &keytab_);
    if (rc != 0) return Fail(r, "keytab", rc);
    char name[1024];
    if (krb5_kt_get_name(context_, keytab_, name, sizeof name) == 0) r.keytabName = name;
    rc = krb5_sname_to_principal(context_, host != nullptr ? host->c_str() : nullptr, service.c_str(), KRB5_NT_SRV_HST, &server_);
    if (rc != 0) return Fail(r, "server-name", rc);
    r.serverPrincipal = Unparse(server_);
    return true;
  }

  // The keytab must hold a key for the verify principal; without one every check would fail (or,
  // in libraries that skip the check when there is no key, pass unverified).
  bool KeyPresent(Result& r) {
    krb5_keytab_entry entry;
    krb5_error_code rc = krb5_kt_get_entry(context_, keytab_, server_, 0, 0, &entry);
    if (rc != 0) return Fail(r, "keytab-entry", rc);
    r.serverPrincipal = Unparse(entry.principal);
    krb5_free_keytab_entry_contents(context_, &entry);
    return true;
  }

  bool Options(Result& r) {
    krb5_error_code rc = krb5_get_init_creds_opt_alloc(context_, &opt_);
    if (rc != 0) return Fail(r, "internal", rc);
    // A short-lived, plain TGT that exists only to be verified; no password-change dialogue.
    krb5_get_init_creds_opt_set_tkt_life(opt_, 300);
    krb5_get_init_creds_opt_set_forwardable(opt_, 0);
    krb5_get_init_creds_opt_set_proxiable(opt_, 0);
    krb5_get_init_creds_opt_set_renew_life(opt_, 0);
    krb5_get_init_creds_opt_set_change_password_prompt(opt_, 0);
    return true;
  }

  bool PasswordCreds(Result& r, const std::string& principal, const char* password) {
    krb5_error_code rc = krb5_parse_name(context_, principal.c_str(), &client_);
    if (rc != 0) return Fail(r, "parse", rc);
    if (!Options(r)) return false;
    rc = krb5_get_init_creds_password(context_, &creds_, client_, password, nullptr, nullptr, 0, nullptr, opt_);
    if (rc != 0) return Fail(r, "init-creds", rc);
    haveCreds_ = true;
    return true;
  }

  // The verify principal logs in with its own key: proves the KDC is reachable and holds the
  // same key as the keytab (a stale keytab is found at start-up, not on the first user).
  bool KeytabCreds(Result& r) {
    if (!Options(r)) return false;
    krb5_error_code rc = krb5_get_init_creds_keytab(context_, &creds_, server_, keytab_, 0, nullptr, opt_);
    if (rc != 0) return Fail(r, "kdc", rc);
    haveCreds_ = true;
    return true;
  }

  bool Verify(Result& r) {
    krb5_verify_init_creds_opt vopt;
    krb5_verify_init_creds_opt_init(&vopt);
    // Fail when the keytab has no usable key instead of returning success unverified.
    krb5_verify_init_creds_opt_set_ap_req_nofail(&vopt, 1);
    krb5_error_code rc = krb5_verify_init_creds(context_, &creds_, server_, keytab_, nullptr, &vopt);
    if (rc != 0) return Fail(r, "verify", rc);
    return true;
  }

 private:
  std::string Unparse(krb5_const_principal p) {
    char* s = nullptr;
    std::string out;
    if (krb5_unparse_name(context_, p, &s) == 0) {
      out = s;
      krb5_free_unparsed_name(context_, s);
    }
    return out;
  }

  krb5_context context_ = nullptr;
  krb5_keytab keytab_ = nullptr;
  krb5_principal client_ = nullptr;
  krb5_principal server_ = nullptr;
  krb5_get_init_creds_opt* opt_ = nullptr;
  krb5_creds creds_{};
  bool haveCreds_ = false;
};

struct ServerSpec {
  bool hasKeytab = false;
  std::string keytab;
  std::string service;
  bool hasHost = false;
  std::string host;
};

std::string StringField(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  // A NUL would cut the name short in C: refuse it rather than look up something else.
  if (s.find('\0') != std::string::npos) throw Napi::TypeError::New(o.Env(), std::string(key) + " contains NUL");
  return s;
}

ServerSpec ServerFields(const Napi::Object& o) {
  ServerSpec s;
  s.service = StringField(o, "verifyService");
  if (!o.Get("keytab").IsNull()) {
    s.hasKeytab = true;
    s.keytab = StringField(o, "keytab");
  }
  if (!o.Get("serverName").IsNull()) {
    s.hasHost = true;
    s.host = StringField(o, "serverName");
  }
  return s;
}

Napi::Object ResultObject(Napi::Env env, const Result& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("stage", r.stage);
  o.Set("code", Napi::Number::New(env, r.code));
  o.Set("message", r.message);
  o.Set("keytabName", r.keytabName);
  o.Set("serverPrincipal", r.serverPrincipal);
  return o;
}

class Krb5Worker : public Napi::AsyncWorker {
 public:
  Krb5Worker(Napi::Env env, ServerSpec spec) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), spec_(std::move(spec)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }
  void OnOK() override { deferred_.Resolve(ResultObject(Env(), result_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 protected:
  bool Open(Session& s) {
    return s.Init(result_) && s.Server(result_, spec_.hasKeytab ? &spec_.keytab : nullptr, spec_.service, spec_.hasHost ? &spec_.host : nullptr);
  }

  Napi::Promise::Deferred deferred_;
  ServerSpec spec_;
  Result result_;
};

class AuthWorker : public Krb5Worker {
 public:
  AuthWorker(Napi::Env env, ServerSpec spec, std::string principal, std::unique_ptr<WipedBytes> password)
      : Krb5Worker(env, std::move(spec)), principal_(std::move(principal)), password_(std::move(password)) {}

  void Execute() override {
    Session s;
    if (Open(s) && s.PasswordCreds(result_, principal_, password_->data())) s.Verify(result_);
  }

 private:
  std::string principal_;
  std::unique_ptr<WipedBytes> password_;
};

class CheckWorker : public Krb5Worker {
 public:
  CheckWorker(Napi::Env env, ServerSpec spec, bool probeKdc) : Krb5Worker(env, std::move(spec)), probeKdc_(probeKdc) {}

  void Execute() override {
    Session s;
    if (Open(s) && s.KeyPresent(result_) && probeKdc_) s.KeytabCreds(result_);
  }

 private:
  bool probeKdc_;
};

// krb5Authenticate({principal, password: Buffer, keytab, verifyService, serverName}) → Promise<result>
Napi::Value Authenticate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "argument must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value pw = o.Get("password");
  if (!pw.IsBuffer()) throw Napi::TypeError::New(env, "password must be a Buffer");
  auto buf = pw.As<Napi::Buffer<uint8_t>>();
  if (memchr(buf.Data(), 0, buf.Length()) != nullptr) throw Napi::TypeError::New(env, "password contains NUL");
  auto password = CopySecret(pw);
  auto* w = new AuthWorker(env, ServerFields(o), StringField(o, "principal"), std::move(password));
  auto p = w->Promise();
  w->Queue();
  return p;
}

// krb5CheckKeytab({keytab, verifyService, serverName, probeKdc}) → Promise<result>
Napi::Value CheckKeytab(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "argument must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto* w = new CheckWorker(env, ServerFields(o), o.Get("probeKdc").ToBoolean().Value());
  auto p = w->Promise();
  w->Queue();
  return p;
}

// The com_err codes the TypeScript side branches on, by name, straight from krb5.h.
Napi::Object ErrorCodes(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
#define CODE(name) c.Set(#name, Napi::Number::New(env, name))
  CODE(KRB5KDC_ERR_NAME_EXP);
  CODE(KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN);
  CODE(KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN);
  CODE(KRB5KDC_ERR_POLICY);
  CODE(KRB5KDC_ERR_CLIENT_REVOKED);
  CODE(KRB5KDC_ERR_CLIENT_NOTYET);
  CODE(KRB5KDC_ERR_KEY_EXP);
  CODE(KRB5KDC_ERR_PREAUTH_FAILED);
  CODE(KRB5KDC_ERR_ETYPE_NOSUPP);
  CODE(KRB5KRB_AP_ERR_BAD_INTEGRITY);
  CODE(KRB5KRB_AP_ERR_MODIFIED);
  CODE(KRB5KRB_AP_ERR_SKEW);
  CODE(KRB5_KDCREP_SKEW);
  CODE(KRB5KRB_AP_ERR_TKT_NYV);
  CODE(KRB5KRB_AP_ERR_TKT_EXPIRED);
  CODE(KRB5KRB_AP_ERR_BADKEYVER);
  CODE(KRB5KRB_AP_ERR_NOKEY);
  CODE(KRB5KRB_AP_WRONG_PRINC);
  CODE(KRB5_KDC_UNREACH);
  CODE(KRB5_REALM_UNKNOWN);
  CODE(KRB5_REALM_CANT_RESOLVE);
  CODE(KRB5_KT_NOTFOUND);
  CODE(KRB5_KT_KVNONOTFOUND);
  CODE(KRB5_KT_END);
  CODE(KRB5_KT_UNKNOWN_TYPE);
  CODE(KRB5_PARSE_MALFORMED);
  CODE(KRB5_PARSE_ILLCHAR);
  CODE(KRB5_CONFIG_NODEFREALM);
  CODE(KRB5_LIBOS_CANTREADPWD);
  CODE(KRB5_LIBOS_PWDINTR);
#undef CODE
  return c;
}

}  // namespace

void InitKrb5(Napi::Env env, Napi::Object exports) {
  exports.Set("krb5Authenticate", Napi::Function::New(env, Authenticate, "krb5Authenticate"));
  exports.Set("krb5CheckKeytab", Napi::Function::New(env, CheckKeytab, "krb5CheckKeytab"));
  exports.Set("krb5ErrorCodes", ErrorCodes(env));
}
