/**
 * Decoding short strings that repeat: note owners (`stapsdt`, `GNU`) and
 * USDT providers (`hotspot` 500 times over). A handful of recent strings are
 * kept with their bytes; a repeat costs a byte comparison instead of a
 * TextDecoder call, which dominated listing libjvm's 531 probes.
 */

const decoder = new TextDecoder("utf-8");

/** A small most-recently-used cache of decoded strings, keyed by their bytes. */
export class RepeatedStrings {
  readonly #entries: { bytes: Uint8Array; text: string }[] = [];
  readonly #capacity: number;

  constructor(capacity = 8) {
    this.#capacity = capacity;
  }

  /** The UTF-8 string in `bytes`, from the cache when the same bytes were seen recently. */
  decode(bytes: Uint8Array): string {
    for (const entry of this.#entries) {
      if (entry.bytes.length === bytes.length && sameBytes(entry.bytes, bytes)) return entry.text;
    }
    const text = decoder.decode(bytes);
    if (this.#entries.length >= this.#capacity) this.#entries.pop();
    this.#entries.unshift({ bytes: bytes.slice(), text });
    return text;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
