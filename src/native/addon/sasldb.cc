// Cyrus sasldb lookups (-a sasldb) through Berkeley DB 5.3, the library Debian 12's libsasldb
// (libsasl2-modules-db) and saslauthd use, with the same calls as cyrus-sasl's sasldb/db_berkeley.c:
// a DB_HASH opened read-only, key "login\0realm\0userPassword", value the clear-text password.
// We call libdb directly instead of linking libsasl2: sasl_server_init is process-global and not
// thread-safe without mutex callbacks, loads every plugin in /usr/lib/.../sasl2, and sasl_checkpass
// would canonicalise "user@realm" logins, which saslauthd's sasldb backend does not do.
//
// Each lookup opens the file afresh, like libsasldb, on libuv's thread pool; one DB handle per
// lookup, used by one thread only. There is no locking between saslpasswd2 and readers (Cyrus uses
// none), so the file is stat'ed before and after the read and the caller decides whether the read
// can be trusted (see src/auth/sasldb.ts).
#include <db.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <string>
#include <vector>

#include "addon.h"

namespace {

// saslauthd reads into a 1024-byte buffer and answers NO for a longer value; so do we.
constexpr size_t kMaxValue = 1024;

// libdb's message for the current lookup on this thread (BDB reports details through a callback).
thread_local std::string t_db_message;

void CaptureDbMessage(const DB_ENV*, const char*, const char* msg) { t_db_message = msg != nullptr ? msg : ""; }

// Every block libdb frees may have held file pages (clear-text passwords): wipe it first. libdb
// takes this hook process-wide; nothing else in this process uses libdb.
void WipingFree(void* p) {
  if (p == nullptr) return;
  explicit_bzero(p, malloc_usable_size(p));
  free(p);
}

// realloc would free the old block unwiped, so move by hand.
void* WipingRealloc(void* p, size_t n) {
  if (p == nullptr) return malloc(n);
  void* q = malloc(n);
  if (q == nullptr) return nullptr;
  size_t old = malloc_usable_size(p);
  memcpy(q, p, old < n ? old : n);
  WipingFree(p);
  return q;
}

struct FileState {
  bool exists = false;
  struct stat st;
};

FileState StatFile(const std::string& path, int* err) {
  FileState s;
  memset(&s.st, 0, sizeof s.st);
  if (stat(path.c_str(), &s.st) == 0) {
    s.exists = true;
  } else {
    *err = errno;
  }
  return s;
}

bool SameVersion(const FileState& a, const FileState& b) {
  return a.exists && b.exists && a.st.st_dev == b.st.st_dev && a.st.st_ino == b.st.st_ino && a.st.st_size == b.st.st_size &&
         a.st.st_mtim.tv_sec == b.st.st_mtim.tv_sec && a.st.st_mtim.tv_nsec == b.st.st_mtim.tv_nsec &&
         a.st.st_ctim.tv_sec == b.st.st_ctim.tv_sec && a.st.st_ctim.tv_nsec == b.st.st_ctim.tv_nsec;
}

double Ms(const struct timespec& t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6; }

// Same time whatever the stored value is: only the length of the offered password shows.
bool ConstantTimeEquals(const std::vector<char>& stored, size_t stored_len, const std::vector<char>& offered) {
  volatile unsigned char diff = stored_len == offered.size() ? 0 : 1;
  for (size_t i = 0; i < offered.size(); i++) {
    unsigned char s = i < stored_len ? static_cast<unsigned char>(stored[i]) : 0;
    diff |= s ^ static_cast<unsigned char>(offered[i]);
  }
  return diff == 0;
}

class SasldbWorker : public Napi::AsyncWorker {
 public:
  SasldbWorker(Napi::Env env, std::string path, std::string key, std::vector<char> password)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)),
        key_(std::move(key)),
        password_(std::move(password)) {}

  ~SasldbWorker() override { explicit_bzero(password_.data(), password_.size()); }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    t_db_message.clear();
    int err = 0;
    FileState before = StatFile(path_, &err);
    if (!before.exists) {
      status_ = err == ENOENT ? "missing" : "error";
      error_ = strerror(err);
      return;
    }
    Lookup();
    FileState after = StatFile(path_, &err);
    stable_ = SameVersion(before, after);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double changed = std::max(Ms(before.st.st_mtim), Ms(before.st.st_ctim));
    quiet_ms_ = Ms(now) - changed;
  }

  void OnOK() override {
    Napi::Env env = Env();
    auto o = Napi::Object::New(env);
    o.Set("status", Napi::String::New(env, status_));
    o.Set("stable", Napi::Boolean::New(env, stable_));
    o.Set("quietMs", Napi::Number::New(env, quiet_ms_));
    if (!error_.empty()) o.Set("error", Napi::String::New(env, error_));
    deferred_.Resolve(o);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  void Lookup() {
    DB* db = nullptr;
    int rc = db_create(&db, nullptr, 0);
    if (rc != 0) return Fail(rc);
    db->set_errcall(db, CaptureDbMessage);
    // DB_NOMMAP: a mapping of a file that someone truncates would SIGBUS the whole daemon.
    rc = db->open(db, nullptr, path_.c_str(), nullptr, DB_HASH, DB_RDONLY | DB_NOMMAP, 0);
    if (rc != 0) {
      db->close(db, 0);
      if (rc == ENOENT) {
        status_ = "missing";
        error_ = strerror(rc);
        return;
      }
      return Fail(rc);
    }
    DBT k, v;
    memset(&k, 0, sizeof k);
    memset(&v, 0, sizeof v);
    k.data = key_.data();
    k.size = static_cast<u_int32_t>(key_.size());
    k.flags = DB_DBT_USERMEM;
    std::vector<char> value(kMaxValue, '\0');
    v.data = value.data();
    v.ulen = static_cast<u_int32_t>(value.size());
    v.flags = DB_DBT_USERMEM;
    rc = db->get(db, nullptr, &k, &v, 0);
    if (rc == 0) {
      status_ = ConstantTimeEquals(value, v.size, password_) ? "match" : "mismatch";
    } else if (rc == DB_BUFFER_SMALL) {
      status_ = "mismatch";  // longer than saslauthd's buffer: it answers NO, and no password is that long
    } else if (rc == DB_NOTFOUND) {
      status_ = "notfound";
    } else {
      Fail(rc);
    }
    explicit_bzero(value.data(), value.size());
    db->close(db, 0);
  }

  void Fail(int rc) {
    status_ = "error";
    error_ = db_strerror(rc);
    if (!t_db_message.empty()) error_ += " (" + t_db_message + ")";
  }

  Napi::Promise::Deferred deferred_;
  std::string path_;
  std::string key_;
  std::vector<char> password_;
  std::string status_ = "error";
  std::string error_;
  bool stable_ = false;
  double quiet_ms_ = 0;
};

std::string StringArg(const Napi::Value& v, const char* what) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// sasldbLookup(file, login, realm, password: Buffer):
//   Promise<{ status: 'match'|'mismatch'|'notfound'|'missing'|'error', stable, quietMs, error? }>
// stable: the file was the same (inode, size, mtime, ctime) before and after the read;
// quietMs: how long before the read the file last changed.
Napi::Value SasldbLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info[0], "file");
  std::string login = StringArg(info[1], "login");
  std::string realm = StringArg(info[2], "realm");
  if (!info[3].IsBuffer()) throw Napi::TypeError::New(env, "password must be a Buffer");
  if (login.find('\0') != std::string::npos || realm.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(env, "login and realm must not contain NUL");
  }
  auto buf = info[3].As<Napi::Buffer<char>>();
  std::vector<char> password(buf.Data(), buf.Data() + buf.Length());
  // The key as sasldb/allockey.c builds it: login NUL realm NUL property (no trailing NUL).
  std::string key = login;
  key.push_back('\0');
  key += realm;
  key.push_back('\0');
  key += "userPassword";
  auto* w = new SasldbWorker(env, std::move(path), std::move(key), std::move(password));
  auto p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void InitSasldb(Napi::Env env, Napi::Object exports) {
  db_env_set_func_free(WipingFree);
  db_env_set_func_realloc(WipingRealloc);
  exports.Set("sasldbLookup", Napi::Function::New(env, SasldbLookup, "sasldbLookup"));
}
