/**
 * `--follow` (issue 14): a probe file kept attached to the containers its
 * scope names while they start, stop and restart: a named Docker or Podman
 * container, or a selector over container and pod labels (`docker/app=web`,
 * `docker/*`, `containerd/[NS/]SELECTOR`, `k8s/NS/SELECTOR[/CONTAINER,…]`),
 * with one helper entry per distinct binary that every matching container
 * of its image shares (docs/design.md).
 */
export { follow, type FollowChange, type FollowOptions, type Following } from "./follow.js";
export { followedScope, retarget, type FollowedScope } from "./scope.js";
