// The parent's end of Node's IPC channel to a command. Messages are framed as Node frames them,
// so a plain Node command talks to it with process.send() and process.on('message'):
// 'json' is one JSON text per line; 'advanced' is a big-endian uint32 length followed by the v8
// serializer's output, with Node's tag in front of every host object.
import type { EventEmitter } from 'events';
import * as net from 'net';
import { StringDecoder } from 'string_decoder';
import * as v8 from 'v8';
import { invalidType, PidnsArgumentError, PidnsStateError } from './errors';
import type { Serialization } from './options';

/** Past this many unsent bytes send() returns false, as Node's does (two 64 KiB reads behind). */
const BACKLOG_LIMIT = 2 * 65536;
const LENGTH_BYTES = 4;
/** Node tags each host object: an ArrayBufferView, or another native object sent as a plain copy. */
const VIEW_TAG = 0;
const PLAIN_COPY_TAG = 1;
/** Messages whose cmd starts with this are Node's own (handle passing, cluster), never the user's. */
const INTERNAL_PREFIX = 'NODE_';

/** A callback that send() calls once the message has been written (null) or could not be. */
export type SendCallback = (error: Error | null) => void;

// The host-object hooks of Node's default (de)serializers, which @types/node does not declare.
const DefaultSerializer = v8.DefaultSerializer as new () => v8.Serializer & { _writeHostObject(object: object): void };
const DefaultDeserializer = v8.DefaultDeserializer as new (buffer: Buffer) => v8.Deserializer & { _readHostObject(): unknown };

class MessageSerializer extends DefaultSerializer {
  override _writeHostObject(object: object): void {
    if (ArrayBuffer.isView(object)) {
      this.writeUint32(VIEW_TAG);
      super._writeHostObject(object);
      return;
    }
    this.writeUint32(PLAIN_COPY_TAG);
    this.writeValue({ ...object });
  }
}

class MessageDeserializer extends DefaultDeserializer {
  override _readHostObject(): unknown {
    const tag = this.readUint32();
    if (tag === VIEW_TAG) return super._readHostObject();
    if (tag !== PLAIN_COPY_TAG) throw new Error(`IPC message with an unknown host object tag ${tag}`);
    return this.readValue();
  }
}

interface Framing {
  encode(message: unknown): string | Buffer;
  /** The messages completed by this chunk, in order; throws on a frame that does not parse. */
  decode(chunk: Buffer): unknown[];
}

class JsonFraming implements Framing {
  readonly #decoder = new StringDecoder('utf8');
  /** The pieces of a line whose '\n' has not arrived yet. Kept apart and joined once, when it
   * does: searching or joining the whole line per chunk made a large message cost quadratic time. */
  #partialLine: string[] = [];

  encode(message: unknown): string {
    return `${JSON.stringify(message)}\n`;
  }

  decode(chunk: Buffer): unknown[] {
    const text = this.#decoder.write(chunk);
    const messages: unknown[] = [];
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      this.#partialLine.push(text.slice(start, end));
      const line = this.#partialLine.join('');
      this.#partialLine = [];
      start = end + 1;
      messages.push(JSON.parse(line) as unknown);
    }
    if (start < text.length) this.#partialLine.push(text.slice(start));
    return messages;
  }
}

class AdvancedFraming implements Framing {
  #chunks: Buffer[] = [];
  #size = 0;

  encode(message: unknown): Buffer {
    const serializer = new MessageSerializer();
    serializer.writeHeader();
    serializer.writeValue(message);
    const body = serializer.releaseBuffer();
    const length = Buffer.allocUnsafe(LENGTH_BYTES);
    length.writeUInt32BE(body.length);
    return Buffer.concat([length, body]);
  }

  decode(chunk: Buffer): unknown[] {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    const messages: unknown[] = [];
    while (this.#size >= LENGTH_BYTES) {
      if (this.#chunks[0].length < LENGTH_BYTES) this.#chunks = [Buffer.concat(this.#chunks)];
      const frameEnd = LENGTH_BYTES + this.#chunks[0].readUInt32BE(0);
      if (this.#size < frameEnd) break;
      const buffered = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks, this.#size);
      const deserializer = new MessageDeserializer(buffered.subarray(LENGTH_BYTES, frameEnd));
      deserializer.readHeader();
      messages.push(deserializer.readValue());
      const rest = buffered.subarray(frameEnd);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#size = rest.length;
    }
    return messages;
  }
}

function isInternal(message: unknown): boolean {
  const cmd = (message as { cmd?: unknown } | null)?.cmd;
  return typeof cmd === 'string' && cmd.length > INTERNAL_PREFIX.length && cmd.startsWith(INTERNAL_PREFIX);
}

function channelClosed(): PidnsStateError {
  return new PidnsStateError('ERR_IPC_CHANNEL_CLOSED', 'Channel closed');
}

/** Our end of an 'ipc' entry's socket pair, and the format of its messages. */
export interface ChannelEnd {
  fd: number;
  serialization: Serialization;
}

/**
 * One IPC channel: emits 'message' (each message, in order), 'disconnect' (once, when the
 * descriptor has been closed by either side or the command's end) and 'error' on `target`.
 * Without an end it is a channel that was never connected (a child without 'ipc').
 *
 * Reading starts with the first 'message' or 'disconnect' listener (or startReading()), so what
 * the command sends before the caller got the child and listened waits in the socket.
 */
export class IpcChannel {
  #connected: boolean;
  readonly #socket: net.Socket | null = null;
  readonly #framing: Framing;
  readonly #target: EventEmitter;

  /** Takes ownership of the descriptor. */
  constructor(end: ChannelEnd | null, target: EventEmitter) {
    this.#target = target;
    this.#connected = end !== null;
    this.#framing = end?.serialization === 'advanced' ? new AdvancedFraming() : new JsonFraming();
    if (!end) return;
    const socket = new net.Socket({ fd: end.fd, readable: true, writable: true, manualStart: true, writableHighWaterMark: BACKLOG_LIMIT } as net.SocketConstructorOpts);
    // A reset or EPIPE once the command is gone ends the channel like end of file; a send that
    // was under way gets the error through its callback.
    socket.on('error', () => {});
    socket.once('close', () => {
      this.#connected = false;
      this.#target.emit('disconnect');
    });
    this.#socket = socket;
    const startOnListener = (event: string | symbol) => {
      if (event !== 'message' && event !== 'disconnect') return;
      target.off('newListener', startOnListener);
      this.startReading();
    };
    target.on('newListener', startOnListener);
  }

  /** Reads from now on (idempotent): messages go to 'message', end of file to 'disconnect'. */
  startReading(): void {
    if (!this.#socket || this.#socket.listenerCount('data') > 0) return;
    this.#socket.on('data', (chunk: Buffer) => this.#receive(chunk));
  }

  /** True until either side has disconnected or the channel has closed. */
  get connected(): boolean {
    return this.#connected;
  }

  /** child_process's send(message, sendHandle?, options?, callback?); handles are refused. */
  send(message: unknown, handle?: unknown, options?: unknown, callback?: unknown): boolean {
    if (typeof handle === 'function') {
      callback = handle;
      handle = undefined;
      options = undefined;
    } else if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    if (options !== undefined && (options === null || typeof options !== 'object')) throw invalidType('options', 'of type object', options);
    if (callback !== undefined && typeof callback !== 'function') throw invalidType('callback', 'of type function', callback);
    if (message === undefined) throw new PidnsArgumentError('ERR_MISSING_ARGS', 'The "message" argument must be specified');
    if (!['string', 'object', 'number', 'boolean'].includes(typeof message)) {
      throw invalidType('message', 'one of type string, object, number or boolean', message);
    }
    if (handle !== undefined && handle !== null) {
      throw new PidnsArgumentError(
        'ERR_INVALID_HANDLE_TYPE',
        'This handle type cannot be sent: a pidns IPC channel carries messages only, not sockets or servers (pass a descriptor through options.stdio instead)',
      );
    }
    const done = callback as SendCallback | undefined;
    if (!this.#connected || !this.#socket) {
      const err = channelClosed();
      process.nextTick(() => (done ? done(err) : this.#target.emit('error', err)));
      return false;
    }
    this.#socket.write(this.#framing.encode(message), (err) => done?.(err ?? null));
    return this.#socket.writableLength < BACKLOG_LIMIT;
  }

  /**
   * Stops sending and receiving: messages already sent still go out, then our end is closed and
   * 'disconnect' follows. Emits 'error' (ERR_IPC_DISCONNECTED) when already disconnected.
   */
  disconnect(): void {
    const socket = this.#socket;
    if (!this.#connected || !socket) {
      this.#target.emit('error', new PidnsStateError('ERR_IPC_DISCONNECTED', 'IPC channel is already disconnected'));
      return;
    }
    this.#connected = false;
    socket.end(() => socket.destroy());
  }

  #receive(chunk: Buffer): void {
    let messages: unknown[];
    try {
      messages = this.#framing.decode(chunk);
    } catch (err) {
      // Not Node's framing: the command wrote something else to the channel. The channel ends;
      // the cause goes to 'error' listeners, if there are any, and never crashes the process.
      this.#connected = false;
      this.#socket?.destroy();
      if (this.#target.listenerCount('error') > 0) this.#target.emit('error', err);
      return;
    }
    for (const message of messages) {
      // A listener may disconnect: what follows is then dropped, as Node drops it.
      if (!this.#connected) return;
      if (!isInternal(message)) this.#target.emit('message', message);
    }
  }
}
