/**
 * The AttachPlan moved to src/plan/ (with the closed sets it names, each
 * defined once); this module re-exports it so existing imports keep working.
 */
export * from "../plan/index.js";
