// Writes a C file that holds a binary file as a byte array: the build runs it
// on the compiled BPF object, which probec-attach embeds (native/src/loader.c).
// npm runs the build (native/Makefile), so Node is always there; no xxd or bpftool is needed.
//
//   node embed-object.mjs probec.bpf.o probec_bpf_object.c
import fs from "node:fs";

const [input, output] = process.argv.slice(2);
if (input === undefined || output === undefined) {
  console.error("usage: node embed-object.mjs <object> <output.c>");
  process.exit(2);
}
const bytes = fs.readFileSync(input);
const lines = [];
for (let i = 0; i < bytes.length; i += 16) lines.push("  " + Array.from(bytes.subarray(i, i + 16), (b) => `${b},`).join(""));
const text = `/* Generated from ${input.split("/").pop()} by native/src/embed-object.mjs; do not edit. */
#include <stddef.h>

__attribute__((aligned(8))) const unsigned char probec_bpf_object[] = {
${lines.join("\n")}
};
const size_t probec_bpf_object_size = sizeof(probec_bpf_object);
`;
fs.writeFileSync(output, text);
