import { TributaryError } from '../core/errors.ts';
import { generalizer } from './generalize.ts';
import type { Keyring } from './keyring.ts';
import type { ResolvedPolicy } from './policies.ts';
import type { MaskPlan } from './sink-plans.ts';
import { tokenize } from './tokens.ts';

type Transform = (value: unknown, subject: string | undefined, keys: SubjectKeys) => unknown;

/** The data keys of the subjects of a batch, loaded before it is masked. */
export type SubjectKeys = ReadonlyMap<string, Buffer>;

/**
 * One view's masking, compiled once at start: a transform per non-keep field, the record key's
 * transform, and how a row's subject is found (its subject field, else the record key). Tokens
 * need the subject's key in memory: `subjectsOf` lists what `Keyring.loadKeys` must fetch first.
 */
export class ValueMasker {
  readonly needsKeys: boolean;
  private readonly names: string[];
  private readonly transforms: Transform[];
  private readonly drops: boolean[];
  private readonly keyTransform: ((key: string) => string) | undefined;
  private readonly subjectField: string | undefined;

  constructor(
    readonly plan: MaskPlan,
    private readonly keyring: Keyring,
  ) {
    this.names = plan.fields.map((f) => f.name);
    this.transforms = plan.fields.map((f) => this.transformOf(f.policy));
    this.drops = plan.fields.map((f) => f.policy.kind === 'drop');
    this.needsKeys = plan.fields.some((f) => f.policy.kind === 'token');
    this.subjectField = plan.subject;
    const pseudonyms = keyring.pseudonyms;
    // Keys must stay stable (filters, snapshots, conflation): a token is never a key, its pseudonym is.
    this.keyTransform = plan.key.kind === 'keep' ? undefined : plan.key.kind === 'drop' ? () => '' : (key) => (key === '' ? key : pseudonyms.hash(key));
  }

  get changesValues(): boolean {
    return this.names.length > 0;
  }

  /** Whether this view changes the field `name` (hash, token, drop, generalization). */
  masks(name: string): boolean {
    return this.names.includes(name);
  }

  /** The subject pseudonym of a row, or undefined when it names none. */
  subjectOf(value: unknown, recordKey: string): string | undefined {
    const field = this.subjectField === undefined || value === null || typeof value !== 'object' ? undefined : (value as Record<string, unknown>)[this.subjectField];
    if (typeof field === 'string' || typeof field === 'number') return this.keyring.subjectOf(field);
    return recordKey === '' ? undefined : this.keyring.subjectOf(recordKey);
  }

  maskKey(key: string): string {
    return this.keyTransform === undefined ? key : this.keyTransform(key);
  }

  /** A masked copy of `value` (the value itself when this view changes no field). */
  mask(value: unknown, subject: string | undefined, keys: SubjectKeys): unknown {
    if (this.names.length === 0 || value === null || typeof value !== 'object') return value;
    const source = value as Record<string, unknown>;
    const masked: Record<string, unknown> = { ...source };
    for (let i = 0; i < this.names.length; i++) {
      const name = this.names[i]!;
      if (!(name in source)) continue;
      if (this.drops[i]) delete masked[name];
      else masked[name] = this.transforms[i]!(source[name], subject, keys);
    }
    return masked;
  }

  private transformOf(policy: ResolvedPolicy): Transform {
    switch (policy.kind) {
      case 'keep':
      case 'drop':
      case 'encrypt':
        return (value) => value;
      case 'hash': {
        const pseudonyms = this.keyring.pseudonyms;
        return (value) => (value === null || value === undefined ? value : pseudonyms.hash(typeof value === 'object' ? JSON.stringify(value) : (value as string)));
      }
      case 'token':
        return (value, subject, keys) => {
          if (value === null || value === undefined) return value;
          // No subject, no key to erase it with: the value is not kept at all.
          if (subject === undefined) return null;
          const key = keys.get(subject);
          if (key === undefined) throw new TributaryError(`governance: the key of subject ${subject} was not loaded before masking`, { code: 'GOVERNANCE_KEY_STORE', retriable: true });
          return tokenize(value, subject, key);
        };
      default: {
        const generalize = generalizer(policy);
        return (value) => generalize(value);
      }
    }
  }
}
