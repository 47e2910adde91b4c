/**
 * A plan entry's `binary` for tests that decode or print without attaching:
 * a libc that no check reads (the decoder and printers never look at it).
 */
import type { PlanBinary } from "../../src/plan/index.js";

export const FAKE_LIBC_BINARY: PlanBinary = {
  request: "libc",
  how: "maps",
  containerPath: "/lib/libc.so.6",
  kernelPath: "/lib/libc.so.6",
  openRoot: "/",
  dev: "1",
  ino: "2",
  size: 3,
  mtimeNs: "4",
  buildId: null,
  mapped: true,
  replaced: false,
  warnings: [],
};
