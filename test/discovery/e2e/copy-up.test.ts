/**
 * PITFALLS 20 and 21 in a real overlayfs container: after a copy-up, the
 * running process still executes the lower file while the merged path now
 * names the upper copy. probec must notice, and read what runs.
 *
 * The copy-up is made from the host by opening the container's libc for
 * writing through /proc/<pid>/root (overlayfs copies a file up on the first
 * open for write), without changing a byte.
 */
import { closeSync, constants, existsSync, openSync, statSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { sameContent } from "../../../src/discovery/identity.js";
import { resolveObject } from "../../../src/discovery/object.js";
import { resolveTarget } from "../../../src/discovery/resolve-target.js";
import { docker, ensureDockerd, importBinariesImage, removeContainers, runContainer } from "../../support/dockerd.js";

const NAME = "probec-e2e-copyup";
let host: string;

beforeAll(async () => {
  host = await ensureDockerd();
  runContainer(importBinariesImage("probec-e2e-sleep"), NAME, ["/usr/bin/sleep", "600"]);
}, 120_000);

afterAll(() => removeContainers(NAME));

test("a copied-up libc: the lower file the process runs is named, and the change is reported", async () => {
  const before = await resolveTarget(`docker/${NAME}:libc:getaddrinfo`, { docker: { host } });
  const [group] = before.groups;
  const upper = before.scope.layers[0] as string;
  expect(group?.object.replaced).toBe(false);
  expect(group?.object.layerPath?.startsWith(`${upper}/`)).toBe(false); // in an image layer
  const lowerPath = group?.object.layerPath as string;
  const pid = group?.processes[0]?.pid as number;
  const mergedPath = `/proc/${pid}/root${group?.object.containerPath}`;
  const inode = statSync(mergedPath).ino;

  closeSync(openSync(mergedPath, constants.O_WRONLY)); // overlayfs copies the file up now
  const upperCopy = `${upper}${group?.object.containerPath}`;
  expect(existsSync(upperCopy)).toBe(true);
  // overlayfs keeps the inode number across the copy-up: stat alone cannot see it.
  expect(statSync(mergedPath).ino).toBe(inode);

  const after = await resolveTarget(`docker/${NAME}:libc:getaddrinfo`, { docker: { host } });
  const object = after.groups[0]?.object;
  expect(object?.replaced).toBe(true);
  expect(object?.mapped).toBe(true);
  // The process still runs the lower file: that is the layer path a uprobe must name…
  expect(object?.layerPath).toBe(lowerPath);
  // …and it is the same content as the new upper copy (PITFALLS 21: by build-id, not by device).
  expect(sameContent(lowerPath, upperCopy)).toBe(true);
  expect(after.groups[0]?.symbols?.[0]?.fileOffset).toBe(group?.symbols?.[0]?.fileOffset);
});

test("a process started after the copy-up runs the upper copy, and is not flagged", async () => {
  const scope = await resolveTarget(`docker/${NAME}:libc:getaddrinfo`, { docker: { host } });
  const upper = scope.scope.layers[0] as string;
  await new Promise((resolve) => setTimeout(resolve, 200)); // well after the copy-up of the test above
  docker(["exec", "-d", NAME, "/usr/bin/sleep", "300"]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const later = (await resolveTarget(`docker/${NAME}:libc:getaddrinfo`, { docker: { host } })).scope.processes.at(-1)?.pid as number;
  const object = resolveObject(later, "libc");
  expect(object.replaced).toBe(false);
  expect(object.layerPath).toBe(`${upper}${object.containerPath}`);
});
