import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.ts';

type Env = NodeJS.ProcessEnv | Record<string, string | undefined>;

const isSet = (value: string | undefined): value is string => value !== undefined && value !== '';

/**
 * A secret setting: `NAME` itself or `NAME_FILE`, the path of a file that holds it (Docker and
 * Kubernetes secrets), never both. The file's trailing newline is dropped. Undefined when neither
 * is set. Errors name the variable and never show the value.
 *
 * @example const password = readSecret(process.env, 'KAFKA_SASL_PASSWORD');
 */
export function readSecret(env: Env, name: string): string | undefined {
  const inline = env[name];
  const file = env[`${name}_FILE`];
  if (isSet(inline) && isSet(file)) {
    throw new ConfigError(name, `both ${name} and ${name}_FILE are set`, `keep one: ${name}_FILE=/path/to/secret (preferred: it stays out of the process environment) or ${name}`);
  }
  if (isSet(inline)) return inline;
  if (!isSet(file)) return undefined;
  const text = readSettingFile(`${name}_FILE`, file, 'the secret').replace(/[\r\n]+$/, '');
  if (text === '') throw new ConfigError(`${name}_FILE`, `${file} is empty`, `write the secret into ${file}, or unset ${name}_FILE`);
  return text;
}

/**
 * The contents of a file named by a setting (a CA certificate, a client key), read now so a
 * wrong path fails the start instead of the first connection.
 */
export function readFileSetting(env: Env, name: string, what: string): string | undefined {
  const file = env[name];
  return isSet(file) ? readSettingFile(name, file, what) : undefined;
}

function readSettingFile(name: string, file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    const reason = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this process' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code})`;
    throw new ConfigError(name, `${file} ${reason}`, `point ${name} at a readable file holding ${what}`);
  }
}
