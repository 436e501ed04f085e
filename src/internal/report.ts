/**
 * Errors thrown by user hooks are rethrown on a later turn, the way EventTarget reports a
 * listener's error: the primitive that called the hook stays consistent, and the error still
 * surfaces (as an uncaught exception) instead of vanishing.
 */
export function reportHookError(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
