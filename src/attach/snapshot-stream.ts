/**
 * `attachment.aggregates()`: the aggregation reports as an async iterable.
 * Reports are few (one per `interval`, one per `report()`, one at detach),
 * so the ones not read yet are simply kept.
 */
import type { AggregateSnapshot } from "./aggregate-types.js";

/** A single-consumer queue of snapshots that ends with the attachment. */
export class SnapshotStream implements AsyncIterable<AggregateSnapshot> {
  private readonly items: AggregateSnapshot[] = [];
  private waiting: { resolve: (result: IteratorResult<AggregateSnapshot>) => void; reject: (error: unknown) => void } | undefined;
  private ended = false;
  private error: unknown;

  /** Adds a report. */
  push(snapshot: AggregateSnapshot): void {
    if (this.ended) return;
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting !== undefined) waiting.resolve({ value: snapshot, done: false });
    else this.items.push(snapshot);
  }

  /** No more reports: the iteration ends once the kept ones are read (or throws `error`). */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting === undefined) return;
    if (error !== undefined) waiting.reject(error);
    else waiting.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<AggregateSnapshot>> {
    const value = this.items.shift();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.ended) return this.error !== undefined ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<AggregateSnapshot> {
    return { next: () => this.next() };
  }
}
