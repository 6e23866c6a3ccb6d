// saslauthd_pam_helper: runs PAM for saslauthd-ts outside the daemon's process.
//
// PAM modules are not all thread-safe, may run setuid helpers, sleep, or crash; a helper process is
// what the daemon can afford to lose. One request at a time, framed on stdin/stdout:
//
//   request:  u32 BE length, then u16-BE-counted strings: service, login, password, rhost,
//             then u8 has_rhost (1 = set PAM_RHOST).
//   reply:    u32 BE length, then u8 stage (0 ok, 1 start, 2 auth, 3 acct, 4 auth succeeded without
//             asking for the password), i32 BE PAM code,
//             u32 BE fail delay PAM asked for (microseconds), u16-counted pam_strerror text.
//
// The protocol pipes are moved off fds 0 and 1 (close-on-exec) before any PAM code runs, so a module
// or a pam_exec script that writes to stdout or reads stdin cannot corrupt the framing or see it.
//
// The client names the PAM service, so it can pick any stack in /etc/pam.d. Two rules keep a wrong
// password from ever being a yes, whatever the stack:
//  - the helper runs with a real uid of `nobody` (effective and saved uid stay 0, so pam_unix still
//    reads /etc/shadow): modules that trust the *caller* (pam_rootok in su, runuser, chfn, chsh;
//    pam_wheel use_uid trust) judge the real uid, which is not root any more;
//  - a pam_authenticate success is only a yes if some module asked for the password through our
//    conversation; a stack that said yes without asking (pam_permit, pam_succeed_if sufficient,
//    pam_rootok, nullok on an empty field) checked no password and is refused.
// PAM_DISALLOW_NULL_AUTHTOK makes pam_unix refuse an empty shadow field despite `nullok`, as -a shadow does.
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

constexpr uint32_t kMaxRequest = 16 * 1024;

int g_in = -1;
int g_out = -1;

bool ReadFull(int fd, void* buf, size_t n) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool WriteFull(int fd, const void* buf, size_t n) {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (n > 0) {
    ssize_t r = write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// Secret-holding string: wiped before its memory is released.
struct WipedString {
  std::string s;
  ~WipedString() {
    if (!s.empty()) explicit_bzero(&s[0], s.size());
  }
};

struct Request {
  std::string service;
  std::string login;
  WipedString password;
  std::string rhost;
  bool has_rhost = false;
};

bool TakeString(const std::vector<uint8_t>& buf, size_t& at, std::string& out) {
  if (at + 2 > buf.size()) return false;
  size_t len = (static_cast<size_t>(buf[at]) << 8) | buf[at + 1];
  at += 2;
  if (at + len > buf.size()) return false;
  out.assign(reinterpret_cast<const char*>(buf.data() + at), len);
  at += len;
  // PAM takes C strings; a NUL would silently truncate (the daemon rejects NUL before we get here).
  return out.find('\0') == std::string::npos;
}

bool ReadRequest(Request& req) {
  uint8_t hdr[4];
  if (!ReadFull(g_in, hdr, 4)) return false;
  uint32_t len = (uint32_t{hdr[0]} << 24) | (uint32_t{hdr[1]} << 16) | (uint32_t{hdr[2]} << 8) | hdr[3];
  if (len > kMaxRequest) return false;
  std::vector<uint8_t> buf(len);
  bool ok = ReadFull(g_in, buf.data(), len);
  size_t at = 0;
  ok = ok && TakeString(buf, at, req.service) && TakeString(buf, at, req.login) &&
       TakeString(buf, at, req.password.s) && TakeString(buf, at, req.rhost) && at + 1 == buf.size();
  if (ok) req.has_rhost = buf[at] == 1;
  explicit_bzero(buf.data(), buf.size());
  return ok;
}

bool WriteReply(uint8_t stage, int code, uint32_t delay_usec, const char* text) {
  std::string msg = text != nullptr ? text : "";
  if (msg.size() > 1024) msg.resize(1024);
  std::vector<uint8_t> out;
  uint32_t body = 1 + 4 + 4 + 2 + static_cast<uint32_t>(msg.size());
  auto u32 = [&out](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
  };
  u32(body);
  out.push_back(stage);
  u32(static_cast<uint32_t>(code));
  u32(delay_usec);
  out.push_back(static_cast<uint8_t>(msg.size() >> 8));
  out.push_back(static_cast<uint8_t>(msg.size()));
  out.insert(out.end(), msg.begin(), msg.end());
  return WriteFull(g_out, out.data(), out.size());
}

struct ConvData {
  const Request* req;
  pam_handle_t** pamh;
  // Set once a module has been handed the password (an echo-off prompt).
  bool password_asked = false;
};

// saslauthd's conversation: echo-off prompts get the password; an echo-on prompt gets the login only
// when it is the user prompt; informational messages are ignored; anything else is an error.
int Converse(int n, const struct pam_message** msg, struct pam_response** resp, void* appdata) {
  if (n <= 0 || n > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
  auto* data = static_cast<ConvData*>(appdata);
  auto* replies = static_cast<struct pam_response*>(calloc(static_cast<size_t>(n), sizeof(struct pam_response)));
  if (replies == nullptr) return PAM_BUF_ERR;
  for (int i = 0; i < n; i++) {
    const char* text = msg[i]->msg != nullptr ? msg[i]->msg : "";
    switch (msg[i]->msg_style) {
      case PAM_PROMPT_ECHO_OFF:
        replies[i].resp = strdup(data->req->password.s.c_str());
        data->password_asked = true;
        break;
      case PAM_PROMPT_ECHO_ON: {
        const void* item = nullptr;
        pam_get_item(*data->pamh, PAM_USER_PROMPT, &item);
        const char* user_prompt = item != nullptr ? static_cast<const char*>(item) : "login: ";
        if (strcmp(text, user_prompt) == 0) replies[i].resp = strdup(data->req->login.c_str());
        break;
      }
      case PAM_ERROR_MSG:
      case PAM_TEXT_INFO:
        break;
      default:
        for (int j = 0; j < i; j++) {
          if (replies[j].resp != nullptr) {
            explicit_bzero(replies[j].resp, strlen(replies[j].resp));
            free(replies[j].resp);
          }
        }
        free(replies);
        return PAM_CONV_ERR;
    }
  }
  *resp = replies;
  return PAM_SUCCESS;
}

// PAM calls this instead of sleeping after a failed pam_authenticate (pam_unix, pam_faildelay):
// the daemon applies the delay itself, without holding a helper. We only remember what was asked.
uint32_t g_requested_delay = 0;
void NoSleep(int /*retval*/, unsigned usec_delay, void* /*appdata*/) { g_requested_delay = usec_delay; }

void Handle(const Request& req) {
  g_requested_delay = 0;
  pam_handle_t* pamh = nullptr;
  ConvData data{&req, &pamh, false};
  struct pam_conv conv = {Converse, &data};
  int rc = pam_start(req.service.c_str(), req.login.c_str(), &conv, &pamh);
  if (rc != PAM_SUCCESS) {
    WriteReply(1, rc, 0, pamh != nullptr ? pam_strerror(pamh, rc) : "pam_start failed");
    if (pamh != nullptr) pam_end(pamh, rc);
    return;
  }
  typedef void (*delay_fn)(int, unsigned, void*);
  delay_fn fn = NoSleep;
  rc = pam_set_item(pamh, PAM_FAIL_DELAY, reinterpret_cast<const void*>(fn));
  if (rc == PAM_SUCCESS && req.has_rhost) rc = pam_set_item(pamh, PAM_RHOST, req.rhost.c_str());
  if (rc != PAM_SUCCESS) {
    WriteReply(1, rc, 0, pam_strerror(pamh, rc));
    pam_end(pamh, rc);
    return;
  }
  uint8_t stage = 0;
  std::string text;
  rc = pam_authenticate(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
  if (rc != PAM_SUCCESS) {
    stage = 2;
  } else if (!data.password_asked) {
    stage = 4;
    text = "pam_authenticate returned success without asking for the password";
  } else {
    rc = pam_acct_mgmt(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
    if (rc != PAM_SUCCESS) stage = 3;
  }
  if (rc != PAM_SUCCESS) text = pam_strerror(pamh, rc);
  pam_end(pamh, rc);
  WriteReply(stage, rc, g_requested_delay, text.c_str());
}

// Moves the protocol pipes to close-on-exec fds and points 0/1 at /dev/null and stderr.
bool SetUpFds() {
  g_in = fcntl(0, F_DUPFD_CLOEXEC, 3);
  g_out = fcntl(1, F_DUPFD_CLOEXEC, 3);
  if (g_in < 0 || g_out < 0) return false;
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(2, 1) < 0) return false;
  if (devnull > 2) close(devnull);
  return true;
}

// Started by root: real uid and gid become nobody's, effective and saved stay root. pam_rootok and
// friends test the real uid; file access (/etc/shadow) follows the effective one. Returns false if
// the real uid is still 0 afterwards, so the helper never runs PAM as a real root.
bool DropRealUid() {
  if (getuid() != 0) return true;
  uid_t uid = 65534;
  gid_t gid = 65534;
  if (const struct passwd* pw = getpwnam("nobody"); pw != nullptr && pw->pw_uid != 0) {
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  if (setresgid(gid, getegid(), getegid()) != 0) return false;
  if (setresuid(uid, geteuid(), geteuid()) != 0) return false;
  uid_t r = 0, e = 0, s = 0;
  return getresuid(&r, &e, &s) == 0 && r != 0;
}

}  // namespace

int main() {
  // Before PR_SET_PDEATHSIG: a credential change may clear it.
  if (!DropRealUid()) {
    static const char kMsg[] = "saslauthd_pam_helper: cannot set a non-root real uid; refusing to run PAM as real root\n";
    (void)!write(2, kMsg, sizeof kMsg - 1);
    return 3;
  }
  // The daemon may die without closing our stdin (SIGKILL while a module hangs): go with it.
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return 1;
  // A crashing module must not leave a core file with a password in it.
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  if (!SetUpFds()) return 2;
  for (;;) {
    Request req;
    if (!ReadRequest(req)) return 0;
    Handle(req);
  }
}
