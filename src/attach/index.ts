/**
 * Attaching plans: the only part of probec that runs the native helper
 * `probec-attach` (docs/design.md). Everything else in the library works
 * without it.
 */
export {
  attach,
  attachFollowing,
  type AddedEntries,
  type AttachMode,
  type AttachOptions,
  type AttachReady,
  type Attachment,
  type FollowCommands,
} from "./attach.js";
export type { ProbeEvent, FieldValue } from "./events.js";
export type { AttachStatus } from "./status.js";
export type { AttachSummary, ProbeSummary } from "./summary.js";
export { locateHelper, helperCandidates, type HelperCandidate } from "./helper.js";
export { checkAttachPlan } from "./plan-check.js";
export type { AggregateSnapshot, AggregateResult, AggregateRow, AggregateKeyValue, HistogramBucket, StackKey } from "./aggregate-types.js";
export { AggregateTotals } from "./aggregate-totals.js";
export { exprText } from "./expr-text.js";
