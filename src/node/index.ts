export type { ChannelReadableOptions, ChannelWritableOptions } from './streams.js';
export { toReadable, toWritable } from './streams.js';
