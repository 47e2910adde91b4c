/**
 * The events between the helper's stdout and the consumer's `for await`.
 *
 * Events are kept until read. When more than {@link HIGH_WATER} wait, the
 * queue asks its producer to pause (the attachment stops reading the
 * helper's stdout) and to resume once the consumer has brought it under
 * {@link LOW_WATER}. Pausing is safe: the pipe fills, the helper blocks in
 * write(), stops draining the kernel's ring buffer, and the BPF program then
 * counts what it cannot emit in the `lost` map, which the helper reports.
 * So a slow consumer costs events that are counted as lost, never memory
 * without bound in Node and never events dropped silently by JS.
 */
import { UsageError } from "../errors.js";
import type { ProbeEvent } from "./events.js";

/** Events waiting before the producer is paused: ~100 ms at 100,000 events/s, a few tens of MB at worst. */
export const HIGH_WATER = 10_000;
/** Events waiting when the producer is resumed. */
export const LOW_WATER = 1_000;

/** What the queue tells its producer. */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

/** A single-consumer async queue of events with pause/resume flow control. */
export class EventQueue implements AsyncIterable<ProbeEvent> {
  // A ring of arrays would avoid shift(); an index into one array, compacted now and then, is as cheap and simpler.
  private items: ProbeEvent[] = [];
  private head = 0;
  private waiting: ((result: IteratorResult<ProbeEvent>) => void) | undefined;
  private failWaiting: ((error: unknown) => void) | undefined;
  private ended = false;
  private error: unknown;
  private paused = false;
  private released = false;

  constructor(private readonly flow: FlowControl) {}

  /** Events waiting to be read. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Adds an event; pauses the producer when the consumer lags. */
  push(event: ProbeEvent): void {
    if (this.ended) return;
    const waiting = this.waiting;
    if (waiting !== undefined) {
      this.waiting = undefined;
      this.failWaiting = undefined;
      waiting({ value: event, done: false });
      return;
    }
    this.items.push(event);
    if (!this.paused && !this.released && this.length >= HIGH_WATER) {
      this.paused = true;
      this.flow.pause();
    }
  }

  /** No more events: the consumer reads what is queued, then the iteration ends (or throws `error`). */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    if (this.length > 0) return;
    if (error !== undefined) this.failWaiting?.(error);
    else this.waiting?.({ value: undefined, done: true });
    this.waiting = undefined;
    this.failWaiting = undefined;
  }

  /**
   * Ends flow control for good: resumes the producer and never pauses it
   * again. After `close()` the helper must be able to write until it has
   * detached, whether or not anyone still reads; the caller bounds what it
   * pushes from then on.
   */
  release(): void {
    this.released = true;
    if (this.paused) {
      this.paused = false;
      this.flow.resume();
    }
  }

  /** The next event, or done once the queue ended and is empty. One consumer at a time. */
  next(): Promise<IteratorResult<ProbeEvent>> {
    if (this.length > 0) {
      const value = this.items[this.head] as ProbeEvent;
      this.items[this.head] = undefined as unknown as ProbeEvent;
      this.head++;
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      } else if (this.head >= 4096 && this.head * 2 >= this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      if (this.paused && this.length <= LOW_WATER) {
        this.paused = false;
        this.flow.resume();
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) return this.error !== undefined ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true });
    if (this.waiting !== undefined)
      return Promise.reject(
        new UsageError("the attachment's events: next() called again before the previous call settled", ["iterate with one consumer (one for await loop)"]),
      );
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<ProbeEvent> {
    return { next: () => this.next() };
  }
}
