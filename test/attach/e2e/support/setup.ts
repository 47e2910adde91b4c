/**
 * What every end-to-end attach test needs first: the tests' dockerd, the
 * fixtures built, and the fixture image imported.
 */
import { ensureDockerd } from "../../../support/dockerd.js";
import { buildFixtures, type Fixtures } from "./fixtures.js";
import { fixtureImage } from "./image.js";

export interface E2e {
  /** The tests' dockerd, as a DOCKER_HOST value (pass `{ docker: { host } }` to compile). */
  readonly host: string;
  readonly fixtures: Fixtures;
  /** The fixture image's id. */
  readonly image: string;
}

export async function e2eSetup(): Promise<E2e> {
  const host = await ensureDockerd();
  const fixtures = buildFixtures();
  return { host, fixtures, image: fixtureImage(fixtures) };
}
