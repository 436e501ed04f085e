/**
 * Named channels of `node:diagnostics_channel`, found without importing it, so that the core
 * still loads in browsers, Deno and Bun.
 *
 * The module is looked up once, when this file is evaluated, through
 * `process.getBuiltinModule` (Node ≥ 20.16, Bun, Deno 2): no static import, nothing for a
 * bundler to resolve. Where it is missing, or the lookup throws, every channel is {@link OFF}:
 * `hasSubscribers` is always false, so a publisher's guard `if (ch.hasSubscribers)` is one
 * property read and the message is never built.
 *
 * Publishers must guard every publish with `hasSubscribers`: that is what makes the events
 * free when nobody listens. Subscribers run synchronously inside `publish`; Node catches what
 * they throw and rethrows it on a later turn, so a faulty subscriber cannot break a primitive.
 */

/** The part of a `diagnostics_channel` Channel a publisher uses. */
export interface DiagnosticsChannel {
  readonly hasSubscribers: boolean;
  publish(message: unknown): void;
}

/** A channel nobody can subscribe to: where `node:diagnostics_channel` is not available. */
export const OFF: DiagnosticsChannel = Object.freeze({
  hasSubscribers: false,
  publish(): void {},
});

type ChannelFactory = (name: string) => DiagnosticsChannel;

function lookUp(): ChannelFactory | undefined {
  try {
    const process = (
      globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } | undefined }
    ).process;
    const module = process?.getBuiltinModule?.('node:diagnostics_channel') as
      | { channel?: unknown }
      | undefined;
    const channel = module?.channel;
    return typeof channel === 'function' ? (channel as ChannelFactory) : undefined;
  } catch {
    return undefined;
  }
}

const factory: ChannelFactory | undefined = /* @__PURE__ */ lookUp();

/**
 * The `diagnostics_channel` named `name`, or {@link OFF} where there is none. Keep the result
 * in a module-level constant: it is also what keeps Node's channel (held weakly by Node) alive.
 */
export function diagnosticsChannel(name: string): DiagnosticsChannel {
  if (factory === undefined) return OFF;
  try {
    return factory(name);
  } catch {
    return OFF;
  }
}
