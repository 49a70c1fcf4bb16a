// The child's descriptors 0..N-1: which descriptor of ours each becomes, and the streams Node
// keeps for 'pipe' entries (and the IPC channel's end for an 'ipc' entry).
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import type { Readable, Writable } from 'stream';
import { systemError } from './errors';
import type { ChannelEnd } from './ipc';
import { isFailure, native } from './native';
import type { Serialization, StdioEntry, TerminalSize } from './options';
import { openTerminalPair, TerminalStream } from './terminal';

export interface PreparedStdio {
  /** fdMap[i]: our descriptor that becomes the child's descriptor i. */
  fdMap: number[];
  /** Our ends of 'pipe' entries, by child descriptor index. */
  parentEnds: (number | null)[];
  /** Our end of the 'ipc' entry's socket pair, or null. */
  channelEnd: number | null;
  /** Pipe ends only the child needs; closed after the spawn. */
  childOnly: number[];
  /** One /dev/null descriptor (read-write) for every 'ignore' entry, opened and closed through
   * fs (a worker thread tracks what its fs calls opened). */
  devNull: number | null;
  /** Our side of the terminal that is the child's descriptors 0-2 (options.terminal), or null. */
  terminalController: number | null;
}

function isOpen(fd: number): boolean {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

function closeAll(fds: (number | null)[]): void {
  for (const fd of fds) if (fd !== null) native.closeFd(fd);
}

/**
 * Every descriptor the stdio entries pass on (a number, or 'inherit' at its index) must be open
 * before anything of ours is opened: a number that is not open would be taken by a namespace
 * file, a pipe, the control socket or the error pipe opened next, and the command would get that
 * (an init's control socket, say) instead of nothing. As with child_process, 'inherit' of a
 * descriptor Node does not have is an error too. Called first thing by a spawn (lib/spawn.ts).
 */
export function checkStdioOpen(entries: StdioEntry[], action: string): void {
  entries.forEach((entry, i) => {
    const fd = typeof entry === 'number' ? entry : entry === 'inherit' ? i : -1;
    if (fd >= 0 && !isOpen(fd)) throw systemError(os.constants.errno.EBADF, 'fstat', { action, path: `stdio[${i}]: descriptor ${fd}` });
  });
}

export function prepareStdio(entries: StdioEntry[], action: string, terminal: TerminalSize | null = null): PreparedStdio {
  const prepared: PreparedStdio = { fdMap: [], parentEnds: [], channelEnd: null, childOnly: [], devNull: null, terminalController: null };
  try {
    if (terminal) {
      const pair = openTerminalPair(terminal, action);
      prepared.terminalController = pair.controller;
      prepared.childOnly.push(pair.terminal);
      entries = [pair.terminal, pair.terminal, pair.terminal, ...entries.slice(3)];
    }
    entries.forEach((entry, i) => {
      const kind = entry ?? (i < 3 ? 'pipe' : 'ignore');
      prepared.parentEnds.push(null);
      if (typeof kind === 'number' || kind === 'inherit') {
        // A copy: the spawn runs on the addon's spawner thread, and the caller may close or reuse
        // the number meanwhile.
        const copy = native.dupFd(typeof kind === 'number' ? kind : i);
        if (isFailure(copy)) throw systemError(copy.errno, copy.syscall, { action, path: `stdio[${i}]: descriptor ${typeof kind === 'number' ? kind : i}` });
        prepared.childOnly.push(copy);
        prepared.fdMap.push(copy);
      } else if (kind === 'ignore') {
        if (prepared.devNull === null) {
          try {
            prepared.devNull = fs.openSync('/dev/null', 'r+');
          } catch (err) {
            throw systemError(-((err as NodeJS.ErrnoException).errno ?? -5), 'open', { action, path: '/dev/null' });
          }
        }
        prepared.fdMap.push(prepared.devNull);
      } else if (kind === 'ipc') {
        const pair = native.ipcPair();
        if (isFailure(pair)) throw systemError(pair.errno, pair.syscall, { action });
        const [nodeEnd, childEnd] = pair;
        prepared.channelEnd = nodeEnd;
        prepared.childOnly.push(childEnd);
        prepared.fdMap.push(childEnd);
      } else {
        const pair = native.pipe();
        if (isFailure(pair)) throw systemError(pair.errno, pair.syscall, { action });
        const [readEnd, writeEnd] = pair;
        const childEnd = i === 0 ? readEnd : writeEnd;
        prepared.parentEnds[i] = i === 0 ? writeEnd : readEnd;
        prepared.childOnly.push(childEnd);
        prepared.fdMap.push(childEnd);
      }
    });
  } catch (err) {
    releaseStdio(prepared, true);
    throw err;
  }
  return prepared;
}

/**
 * Every descriptor of ours in it that the addon may close for us (ownedFds of the request): all
 * but /dev/null, which fs opened and a worker's fs closes itself when the worker ends.
 */
export function ownedDescriptors(prepared: PreparedStdio): number[] {
  return [...prepared.childOnly, ...prepared.parentEnds, prepared.channelEnd, prepared.terminalController].filter((fd): fd is number => fd !== null);
}

/** Closes what only the child needed; with failed, also our ends of the pipes. */
export function releaseStdio(prepared: PreparedStdio, failed: boolean): void {
  closeAll(prepared.childOnly);
  prepared.childOnly = [];
  if (prepared.devNull !== null) fs.closeSync(prepared.devNull);
  prepared.devNull = null;
  if (failed) {
    closeAll([...prepared.parentEnds, prepared.channelEnd, prepared.terminalController]);
    prepared.parentEnds = [];
    prepared.channelEnd = null;
    prepared.terminalController = null;
  }
}

/** child.terminal over our side of the terminal, or null without one. */
export function openTerminalStream(prepared: PreparedStdio): TerminalStream | null {
  return prepared.terminalController === null ? null : new TerminalStream(prepared.terminalController);
}

/** Streams over our ends of the pipes: index 0 writable, the others readable. */
export function openStreams(prepared: PreparedStdio): (Readable | Writable | null)[] {
  return prepared.parentEnds.map((fd, i) => {
    if (fd === null) return null;
    // manualStart: nothing is read until the caller reads, so output (and its end) waits for a
    // listener attached after the spawn's promise has settled.
    return new net.Socket({ fd, readable: i !== 0, writable: i === 0, manualStart: true } as net.SocketConstructorOpts);
  });
}

/** Our end of the IPC channel, for the child to open, or null without an 'ipc' entry. */
export function channelEnd(prepared: PreparedStdio, serialization: Serialization): ChannelEnd | null {
  return prepared.channelEnd === null ? null : { fd: prepared.channelEnd, serialization };
}
