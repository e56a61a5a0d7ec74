import { LatestByKey, type LogEntry, ReplayBuffer } from './channel-log.ts';
import { batchFrame, batchFrameBytes, batchFramePrefix, dataFrame, dataFramePrefix } from './frames.ts';
import type { Subscription } from './session.ts';

export interface ChannelBounds {
  replayItems: number;
  replayBytes: number;
  snapshotKeys: number;
  snapshotBytes: number;
}

/**
 * One channel: its sequence numbers, its memory of past items, and who listens. Unfiltered
 * subscribers that keep up sit in uWS's topic of the same name (C++ fan-out), or in its batch
 * topic when they take batch frames; everyone else (filtered, or catching up, or behind) is
 * served from JS.
 */
export class ChannelState {
  /** Sequence number of the last published item; 0 before the first. */
  seq = 0;
  readonly replay: ReplayBuffer;
  readonly latest: LatestByKey;
  /** On `topic`: one data frame per item. */
  readonly topicSubscribers = new Set<Subscription>();
  /** On `batchTopic`: the items of a publish in batch frames. */
  readonly batchTopicSubscribers = new Set<Subscription>();
  readonly directSubscribers = new Set<Subscription>();
  /** `<topic>#batch`: unreachable by name, like the admin view. */
  readonly batchTopic: string;
  private readonly prefix: string;
  private readonly batchPrefix: string;
  private readonly batchPrefixBytes: number;

  /**
   * `name`: the channel as clients know it (in frames). `topic`: this view's own uWS topic and
   * key: the name, or `<name>#admin` for the admin view of a governed channel ('#' is not
   * allowed in channel names, so no client can subscribe to it by name).
   */
  constructor(
    readonly name: string,
    bounds: ChannelBounds,
    readonly topic = name,
  ) {
    this.replay = new ReplayBuffer(bounds.replayItems, bounds.replayBytes);
    this.latest = new LatestByKey(bounds.snapshotKeys, bounds.snapshotBytes);
    this.prefix = dataFramePrefix(name);
    this.batchPrefix = batchFramePrefix(name);
    this.batchPrefixBytes = Buffer.byteLength(this.batchPrefix);
    this.batchTopic = `${topic}#batch`;
  }

  get subscriberCount(): number {
    return this.topicSubscribers.size + this.batchTopicSubscribers.size + this.directSubscribers.size;
  }

  /** The uWS topic a subscription joins while it keeps up, and the set that tracks it there. */
  topicOf(sub: Subscription): { topic: string; members: Set<Subscription> } {
    return sub.batch ? { topic: this.batchTopic, members: this.batchTopicSubscribers } : { topic: this.topic, members: this.topicSubscribers };
  }

  /** Bytes of a batch frame of this channel holding `count` entries of `itemBytes` in all. */
  batchBytes(count: number, itemBytes: number): number {
    return batchFrameBytes(this.batchPrefixBytes, count, itemBytes);
  }

  /** What carries `entries[from, to)`: one batch frame, or a lone entry's own data frame. */
  frameOf(entries: readonly LogEntry[], from: number, to: number): { frame: string; bytes: number } {
    if (to - from === 1) return entries[from]!;
    let itemBytes = 0;
    for (let i = from; i < to; i++) itemBytes += entries[i]!.bytes;
    return { frame: batchFrame(this.batchPrefix, entries, from, to), bytes: this.batchBytes(to - from, itemBytes) };
  }

  /** Numbers an item already serialised as `json` and remembers it. */
  append(json: string, key: string | undefined): LogEntry {
    this.seq += 1;
    const frame = dataFrame(this.prefix, this.seq, key, json);
    const entry: LogEntry = { seq: this.seq, key, frame, bytes: Buffer.byteLength(frame) };
    this.replay.push(entry);
    if (key !== undefined && this.latest.maxKeys > 0) this.latest.set(key, entry);
    return entry;
  }

  /** Oldest sequence number a resuming client can still get (seq + 1 when nothing is held). */
  oldestReplayable(): number {
    return this.replay.oldestSeq() ?? this.seq + 1;
  }

  /** Nothing published and nobody listening: the state can go (client-chosen names must not pile up). */
  isDisposable(): boolean {
    return this.seq === 0 && this.subscriberCount === 0;
  }
}
