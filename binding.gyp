{
  "variables": {
    "pidns_sanitize%": "0"
  },
  "target_defaults": {
    "cflags": ["-Wall", "-Wextra", "-fno-strict-aliasing"],
    "cflags_c": ["-Werror=implicit-function-declaration"],
    "cflags_cc": ["-Wall", "-Wextra", "-std=c++17"],
    "defines": ["_GNU_SOURCE"],
    "conditions": [
      ["pidns_sanitize==1", {
        "cflags": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g", "-O1"],
        "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g", "-O1"],
        "ldflags": ["-fsanitize=address,undefined"]
      }]
    ]
  },
  "targets": [
    {
      "target_name": "pidns",
      "sources": [
        "src-native/addon.cc",
        "src-native/spawn.cc",
        "src-native/spawn_request.cc",
        "src-native/spawner.cc",
        "src-native/warm_network.cc",
        "src-native/child.c",
        "src-native/process_handle.cc",
        "src-native/control.cc",
        "src-native/descriptors.cc",
        "src-native/ipc.cc",
        "src-native/kernel.c",
        "src-native/clone3.c",
        "src-native/namespaces.c",
        "src-native/signal_forward.cc",
        "src-native/foreground.cc",
        "src-native/terminal.cc",
        "src-native/fd_watch.cc",
        "src-native/probe.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # A worker being torn down refuses every call into JavaScript, a throw included: such a throw
      # is dropped instead of ending the process (node-addon-api's NAPI_FATAL_IF_FAILED).
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      # Never unloaded: Node unloads an addon with the last environment that loaded it (a worker's),
      # but the spawner thread and libuv's close callbacks run its code after that.
      "ldflags": ["-Wl,-z,nodelete"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"]
    },
    {
      "target_name": "pidns-init",
      "type": "none",
      "actions": [
        {
          "action_name": "build_pidns_init",
          "inputs": ["<!@(ls src-native/init/*.c src-native/init/*.h)", "src-native/protocol.h", "src-native/raw_signal.h", "src-native/init/build.sh", "<!@(ls src-native/init/freestanding/*)"],
          "outputs": ["<(PRODUCT_DIR)/pidns-init"],
          "action": ["sh", "src-native/init/build.sh", "<(PRODUCT_DIR)/pidns-init", "<(pidns_sanitize)"]
        }
      ]
    }
  ]
}
