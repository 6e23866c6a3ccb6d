{
  "targets": [
    {
      "target_name": "saslauthd_native",
      "sources": [
        "src/native/addon/addon.cc",
        "src/native/addon/crypt.cc",
        "src/native/addon/sha512-crypt.cc",
        "src/native/addon/getpwent.cc",
        "src/native/addon/dgram.cc",
        "src/native/addon/peercred.cc",
        "src/native/addon/sasldb.cc",
        "src/native/addon/krb5.cc",
        "src/native/addon/stat-stamp.cc",
        "src/native/addon/hmac.cc",
        "src/native/addon/yescrypt/yescrypt-opt.c",
        "src/native/addon/yescrypt/yescrypt-common.c",
        "src/native/addon/yescrypt/sha256.c",
        "src/native/addon/yescrypt/insecure_memzero.c"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["-fvisibility=hidden", "-Wno-cpp", "-Wno-type-limits"],
      "libraries": [
        "-lcrypt",
        "-ldb-5.3",
        "-lkrb5"
      ]
    },
    {
      "target_name": "saslauthd_pam_helper",
      "type": "executable",
      "sources": ["src/native/pam-helper/pam_helper.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "libraries": ["-lpam"]
    }
  ]
}
