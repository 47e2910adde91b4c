/**
 * `--follow` (issue 14): a probe file kept attached to the containers its
 * scope names while they start, stop and restart (docs/design.md).
 */
export { follow, type FollowChange, type FollowOptions, type Following } from "./follow.js";
export { followedScope, retarget, type FollowedScope } from "./scope.js";
