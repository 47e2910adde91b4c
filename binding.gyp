# probec-attach, the native attacher (native/README.md). node-gyp builds it
# as an executable, not an addon: the BPF object is compiled with clang and
# embedded, libbpf is linked statically from Debian's libbpf-dev.
#
#   npm run build:native      (node-pre-gyp, or plain `node-gyp rebuild`)
#
# The binary is copied to prebuilds/<platform>-<arch>/probec-attach, where
# src/attach/helper.ts looks for it.
{
  "variables": {
    "module_name%": "probec-attach",
    "module_path%": "prebuilds/<(OS)-<(target_arch)",
    "conditions": [
      ["target_arch == 'x64'", {"bpf_target_arch%": "x86"}],
      ["target_arch == 'arm64'", {"bpf_target_arch%": "arm64"}],
    ],
  },
  "targets": [
    {
      "target_name": "probec-attach",
      "type": "executable",
      "sources": [
        "native/src/attach_legacy.c",
        "native/src/attach_multi.c",
        "native/src/attach_pmu.c",
        "native/src/binary.c",
        "native/src/events.c",
        "native/src/features.c",
        "native/src/json.c",
        "native/src/json_writer.c",
        "native/src/loader.c",
        "native/src/lower.c",
        "native/src/main.c",
        "native/src/output.c",
        "native/src/plan.c",
        "native/src/session.c",
        "native/src/status.c",
        "native/src/teardown.c",
        "native/src/tracefs.c",
        "native/src/uprobe_multi.c",
        "native/src/util.c",
        "native/src/watch.c",
      ],
      "include_dirs": ["native/include"],
      "cflags": ["-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      # libbpf from libbpf-dev, statically: the binary runs wherever libelf and zlib are.
      "libraries": ["-l:libbpf.a", "-lelf", "-lz"],
      "actions": [
        {
          "action_name": "compile_bpf_program",
          "inputs": ["native/bpf/probec.bpf.c", "native/include/probec_abi.h"],
          "outputs": ["<(INTERMEDIATE_DIR)/probec.bpf.o"],
          "action": [
            "clang", "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_<(bpf_target_arch)", "-Inative/include",
            "-c", "native/bpf/probec.bpf.c", "-o", "<(INTERMEDIATE_DIR)/probec.bpf.o",
          ],
          "message": "clang: native/bpf/probec.bpf.c",
        },
        {
          "action_name": "embed_bpf_object",
          "inputs": ["native/src/embed-object.mjs", "<(INTERMEDIATE_DIR)/probec.bpf.o"],
          "outputs": ["<(INTERMEDIATE_DIR)/probec_bpf_object.c"],
          "action": ["node", "native/src/embed-object.mjs", "<(INTERMEDIATE_DIR)/probec.bpf.o", "<(INTERMEDIATE_DIR)/probec_bpf_object.c"],
          "process_outputs_as_sources": 1,
          "message": "embedding the BPF object",
        },
      ],
    },
    {
      "target_name": "copy_probec_attach",
      "type": "none",
      "dependencies": ["probec-attach"],
      "copies": [{"files": ["<(PRODUCT_DIR)/probec-attach"], "destination": "<(module_path)"}],
    },
  ],
}
