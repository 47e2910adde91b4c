/**
 * From an image store to one image: its config and its layers, bottom
 * first. Two layouts exist, and `docker save` has written both:
 *
 * - OCI (image-spec `image-layout.md`): `oci-layout`, `index.json` listing
 *   manifests (or nested indexes, one per platform), blobs under
 *   `blobs/<alg>/<hex>`. OCI layout directories and archives, and
 *   `docker save` since Docker 25, which adds `manifest.json` beside it.
 * - Docker's classic `manifest.json`: `[{ "Config": "<id>.json",
 *   "RepoTags": [...], "Layers": ["<id>/layer.tar", ...] }]`, paths relative
 *   to the archive root.
 *
 * When `index.json` is there it is used (it carries platforms); otherwise
 * `manifest.json`. Several candidate images are told apart by `--platform`
 * (`os/arch[/variant]`); an unknown or ambiguous choice is an error that
 * lists what the image has.
 */
import { FormatError, LimitError, UsageError } from "../errors.js";
import type { BlobLocation } from "./decompress.js";
import { blobPath, readJson, type ImageStore } from "./store.js";

/** What the image's config says about how it runs (OCI image-spec `config.md`). */
export interface ImageConfig {
  readonly os: string | undefined;
  readonly architecture: string | undefined;
  readonly variant: string | undefined;
  readonly entrypoint: readonly string[] | undefined;
  readonly cmd: readonly string[] | undefined;
  /** `NAME=value` strings. */
  readonly env: readonly string[];
  readonly workingDir: string | undefined;
}

/** One layer blob. */
export interface LayerBlob {
  readonly location: BlobLocation;
  readonly mediaType: string | undefined;
}

/** The image chosen from the store. */
export interface SelectedImage {
  readonly config: ImageConfig;
  readonly layers: readonly LayerBlob[];
  /** `os/arch[/variant]`, from the index or the config. */
  readonly platform: string;
  /** Every platform the store offered (one entry per candidate image). */
  readonly platforms: readonly string[];
  /** `oci` when read through index.json, `docker` through manifest.json. */
  readonly layout: "oci" | "docker";
}

/** Most manifests looked at across nested indexes, and most layers of one image. */
export const MAX_MANIFESTS = 1024;
export const MAX_LAYERS = 1024;
const MAX_INDEX_DEPTH = 4;

interface Candidate {
  readonly platform: string;
  readonly name: string | undefined;
  /** What makes two candidates the same image: the manifest's path (OCI) or the config's (docker save); one image saved under two tags is listed twice with the same one. */
  readonly identity: string;
  load(): { config: ImageConfig; layers: LayerBlob[] };
}

/** Picks the image of `platform` (or the only one) from `store`. */
export function selectImage(store: ImageStore, platform: string | undefined): SelectedImage {
  const wanted = platform === undefined ? undefined : parsePlatform(platform);
  let layout: "oci" | "docker";
  let candidates: Candidate[];
  if (store.file("index.json") !== undefined) {
    layout = "oci";
    candidates = ociCandidates(store);
  } else if (store.file("manifest.json") !== undefined) {
    layout = "docker";
    candidates = dockerCandidates(store);
  } else {
    throw new UsageError(`${store.what}: not an image: it has neither index.json (an OCI layout) nor manifest.json (a docker save archive)`, [
      "give a docker save archive (docker save IMAGE -o image.tar), an OCI layout or archive, or a root filesystem directory",
    ]);
  }
  const platforms = candidates.map((c) => c.platform);
  const listed = [...new Set(candidates.map((c) => (c.name === undefined ? c.platform : `${c.platform} (${c.name})`)))].join(", ");
  if (candidates.length === 0) throw new FormatError(`${store.what}: the image index lists no image manifest`, 0, undefined, false);
  const matching = wanted === undefined ? candidates : candidates.filter((c) => platformMatches(parsePlatform(c.platform), wanted));
  if (matching.length === 0) {
    throw new UsageError(`${store.what}: no image for platform ${platform ?? ""}; the image has ${listed}`, [
      `pick one of them with --platform ${candidates[0]?.platform ?? "os/arch"}`,
    ]);
  }
  const distinct = new Set(matching.map((c) => c.identity));
  if (distinct.size > 1) {
    throw new UsageError(`${store.what}: holds several images (${listed}); say which`, [
      wanted === undefined
        ? `pick one with --platform ${matching[0]?.platform ?? "os/arch"}`
        : "save one image per archive (docker save NAME), or give a more precise --platform os/arch/variant",
    ]);
  }
  const chosen = matching[0] as Candidate;
  return { ...chosen.load(), platform: chosen.platform, platforms, layout };
}

function ociCandidates(store: ImageStore): Candidate[] {
  const out: Candidate[] = [];
  const missing: string[] = [];
  const visit = (index: unknown, what: string, depth: number): void => {
    const manifests = (index as { manifests?: unknown }).manifests;
    if (!Array.isArray(manifests)) throw new FormatError(`${store.what}: ${what} has no "manifests" list`, 0, undefined, false);
    for (const d of manifests as unknown[]) {
      if (out.length >= MAX_MANIFESTS) throw new LimitError(`${store.what}: more than ${MAX_MANIFESTS} manifests`);
      const descriptor = (d ?? {}) as {
        mediaType?: unknown;
        digest?: unknown;
        platform?: { os?: unknown; architecture?: unknown; variant?: unknown };
        annotations?: Record<string, unknown>;
      };
      const mediaType = typeof descriptor.mediaType === "string" ? descriptor.mediaType : "";
      const path = blobPath(descriptor.digest, `${store.what}: ${what}`);
      if (/index|manifest\.list/.test(mediaType)) {
        if (depth >= MAX_INDEX_DEPTH) throw new LimitError(`${store.what}: image indexes nested more than ${MAX_INDEX_DEPTH} deep`);
        visit(readJson(store, path, "an image index"), path, depth + 1);
        continue;
      }
      // Docker 25+ with the containerd image store saves the whole index of a multi-platform
      // image but only the blobs of the platforms it pulled: an image whose manifest is absent is not in the archive.
      if (store.file(path) === undefined) {
        missing.push(descriptor.platform === undefined ? path : platformText(descriptor.platform));
        continue;
      }
      const annotations = descriptor.annotations ?? {};
      // BuildKit stores provenance and SBOMs as "attestation manifests" with platform unknown/unknown: not images.
      if (annotations["vnd.docker.reference.type"] === "attestation-manifest" || descriptor.platform?.os === "unknown") continue;
      const manifest = (): { config: ImageConfig; layers: LayerBlob[] } => loadOciManifest(store, path);
      const fromDescriptor = descriptor.platform === undefined ? undefined : platformText(descriptor.platform);
      const name =
        typeof annotations["io.containerd.image.name"] === "string"
          ? annotations["io.containerd.image.name"]
          : typeof annotations["org.opencontainers.image.ref.name"] === "string"
            ? annotations["org.opencontainers.image.ref.name"]
            : undefined;
      let loaded: { config: ImageConfig; layers: LayerBlob[] } | undefined;
      const load = (): { config: ImageConfig; layers: LayerBlob[] } => (loaded ??= manifest());
      const platform = fromDescriptor ?? platformText(load().config);
      out.push({ platform, name, identity: path, load });
    }
  };
  visit(readJson(store, "index.json", "the image index"), "index.json", 0);
  if (out.length === 0 && missing.length > 0) {
    throw new FormatError(`${store.what}: the image index lists ${missing.join(", ")}, but none of their manifests is in it`, 0, undefined, false);
  }
  // One image saved under several names shares one manifest: keep the first name per platform.
  return dedupe(out);
}

function loadOciManifest(store: ImageStore, path: string): { config: ImageConfig; layers: LayerBlob[] } {
  const manifest = readJson(store, path, "an image manifest") as { config?: { digest?: unknown }; layers?: unknown };
  const config = parseConfig(readJson(store, blobPath(manifest.config?.digest, `${store.what}: ${path}`), "the image config"), store.what);
  if (!Array.isArray(manifest.layers)) throw new FormatError(`${store.what}: manifest ${path} has no "layers" list`, 0, undefined, false);
  if (manifest.layers.length > MAX_LAYERS) throw new LimitError(`${store.what}: ${manifest.layers.length} layers (limit ${MAX_LAYERS})`);
  const layers = (manifest.layers as { digest?: unknown; mediaType?: unknown }[]).map((layer, i) => {
    const blob = blobPath(layer.digest, `${store.what}: ${path}`);
    const location = store.file(blob);
    if (location === undefined) throw new FormatError(`${store.what}: layer ${i + 1} (${String(layer.digest)}) is missing from the image`, 0, undefined, false);
    return {
      location: { ...location, what: `${store.what}: layer ${i + 1} (${String(layer.digest).slice(0, 19)}…)` },
      mediaType: typeof layer.mediaType === "string" ? layer.mediaType : undefined,
    };
  });
  return { config, layers };
}

function dockerCandidates(store: ImageStore): Candidate[] {
  const manifest = readJson(store, "manifest.json", "the docker save manifest");
  if (!Array.isArray(manifest)) throw new FormatError(`${store.what}: manifest.json is not a list`, 0, undefined, false);
  if (manifest.length > MAX_MANIFESTS) throw new LimitError(`${store.what}: more than ${MAX_MANIFESTS} images in manifest.json`);
  return dedupe(
    (manifest as { Config?: unknown; Layers?: unknown; RepoTags?: unknown }[]).map((entry, n) => {
      if (typeof entry.Config !== "string" || !Array.isArray(entry.Layers)) {
        throw new FormatError(`${store.what}: manifest.json entry ${n + 1} lacks Config or Layers`, 0, undefined, false);
      }
      if (entry.Layers.length > MAX_LAYERS) throw new LimitError(`${store.what}: ${entry.Layers.length} layers (limit ${MAX_LAYERS})`);
      const config = parseConfig(readJson(store, entry.Config, "the image config"), store.what);
      const layers = (entry.Layers as unknown[]).map((p, i) => {
        const location = typeof p === "string" ? store.file(p) : undefined;
        if (location === undefined) throw new FormatError(`${store.what}: layer ${i + 1} (${String(p)}) is missing from the archive`, 0, undefined, false);
        return { location: { ...location, what: `${store.what}: layer ${i + 1} (${String(p)})` }, mediaType: undefined };
      });
      const tags = Array.isArray(entry.RepoTags) ? (entry.RepoTags as unknown[]).filter((t): t is string => typeof t === "string") : [];
      return { platform: platformText(config), name: tags[0], identity: entry.Config, load: () => ({ config, layers }) };
    }),
  );
}

/** One candidate per image: the first name of an image saved under several names (`docker save x:1 x:latest`). */
function dedupe(candidates: Candidate[]): Candidate[] {
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const c of candidates) {
    if (seen.has(c.identity)) continue;
    seen.add(c.identity);
    out.push(c);
  }
  return out;
}

function parseConfig(json: unknown, what: string): ImageConfig {
  if (typeof json !== "object" || json === null) throw new FormatError(`${what}: the image config is not an object`, 0, undefined, false);
  const c = json as {
    os?: unknown;
    architecture?: unknown;
    variant?: unknown;
    config?: { Entrypoint?: unknown; Cmd?: unknown; Env?: unknown; WorkingDir?: unknown } | null;
  };
  const run = c.config ?? {};
  return {
    os: str(c.os),
    architecture: str(c.architecture),
    variant: str(c.variant),
    entrypoint: strings(run.Entrypoint),
    cmd: strings(run.Cmd),
    env: strings(run.Env) ?? [],
    workingDir: str(run.WorkingDir),
  };
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined);

interface Platform {
  readonly os: string;
  readonly arch: string;
  readonly variant: string | undefined;
}

function platformText(p: { os?: unknown; architecture?: unknown; variant?: unknown }): string {
  const os = typeof p.os === "string" && p.os !== "" ? p.os : "unknown";
  const arch = typeof p.architecture === "string" && p.architecture !== "" ? p.architecture : "unknown";
  return typeof p.variant === "string" && p.variant !== "" ? `${os}/${arch}/${p.variant}` : `${os}/${arch}`;
}

/** `linux/arm64/v8`; `x86_64` and `aarch64` are read as Go's `amd64` and `arm64`, as containerd's platforms package does. */
export function parsePlatform(text: string): Platform {
  const parts = text.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) {
    throw new UsageError(`platform "${text}": write os/arch or os/arch/variant`, ["for example --platform linux/arm64 or --platform linux/arm/v7"]);
  }
  const arch = ({ x86_64: "amd64", "x86-64": "amd64", aarch64: "arm64" } as Record<string, string>)[parts[1] as string] ?? (parts[1] as string);
  return { os: (parts[0] as string).toLowerCase(), arch, variant: parts[2] };
}

/** A wanted platform without a variant matches any variant; `arm64` and `arm64/v8` are one platform. */
function platformMatches(have: Platform, want: Platform): boolean {
  if (have.os !== want.os || have.arch !== want.arch) return false;
  if (want.variant === undefined) return true;
  const norm = (p: Platform): string | undefined => (p.arch === "arm64" && p.variant === undefined ? "v8" : p.variant);
  return norm(have) === norm(want);
}
