import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import avsc from 'avsc';
import type { schema as avroSchema, Type } from 'avsc';
import { ConfigError, errorMessage } from '../core/errors.ts';
import type { NamedSchemaSource, SchemaResolver } from './schema-resolver.ts';

const REGISTRY_FILE = 'registry.json';
const MAX_SCHEMA_ID = 2 ** 31 - 1; // Confluent ids are signed 32-bit integers.

/** One .avsc file: the JSON as written (for DDL generation) and its compiled avsc Type. */
interface SchemaFile {
  fileName: string;
  raw: avroSchema.AvroSchema;
  type: Type;
}

/**
 * Schemas from one directory: every *.avsc file, compiled once at load, and the ids that
 * registry.json ({"schemas": {"1": "payment.avsc"}}) gives them for the Confluent wire format.
 * Each file compiles on its own, so a file cannot refer to a named type defined in another.
 * Logical types are not registered: timestamp-millis decodes as a plain number (epoch ms).
 */
export class LocalSchemaRegistry implements SchemaResolver, NamedSchemaSource {
  private readonly byFile: ReadonlyMap<string, SchemaFile>;
  private readonly typeById: ReadonlyMap<number, Type>;
  private readonly idByName: ReadonlyMap<string, number>;

  private constructor(byFile: Map<string, SchemaFile>, fileById: Map<number, SchemaFile>) {
    this.byFile = byFile;
    this.typeById = new Map([...fileById].map(([id, file]) => [id, file.type]));
    const idByName = new Map<string, number>();
    // Ascending ids, so a record full name shared by several versions maps to the newest id.
    for (const [id, file] of [...fileById].sort(([a], [b]) => a - b)) {
      idByName.set(file.fileName, id);
      if (file.type.name !== undefined) idByName.set(file.type.name, id);
    }
    this.idByName = idByName;
  }

  /** Loads and compiles every schema in `dir`; throws ConfigError naming the file and field at fault. */
  static fromDirectory(dir: string): LocalSchemaRegistry {
    const byFile = new Map<string, SchemaFile>();
    for (const fileName of listSchemaFiles(dir)) byFile.set(fileName, loadSchemaFile(dir, fileName));
    return new LocalSchemaRegistry(byFile, readIds(dir, byFile));
  }

  byId(id: number): Type | undefined {
    return this.typeById.get(id);
  }

  has(fileName: string): boolean {
    return this.byFile.has(fileName);
  }

  schema(fileName: string): Type {
    return this.fileEntry(fileName).type;
  }

  /** The parsed JSON of a schema file as written, deep-frozen (the ClickHouse DDL generator reads it). */
  raw(fileName: string): avroSchema.AvroSchema {
    return this.fileEntry(fileName).raw;
  }

  /** The id of a schema by file name ('payment.avsc') or record full name; the newest id if several. */
  idOf(fileOrFullName: string): number {
    const id = this.idByName.get(fileOrFullName);
    if (id === undefined) {
      throw new ConfigError(
        'schema',
        `no schema id for "${fileOrFullName}" in ${REGISTRY_FILE} (ids exist for: ${[...this.idByName.keys()].join(', ')})`,
        `add "${fileOrFullName}" under "schemas" in ${REGISTRY_FILE} with an unused id, or use a listed name`,
      );
    }
    return id;
  }

  /** The .avsc file names loaded, sorted. */
  get fileNames(): string[] {
    return [...this.byFile.keys()];
  }

  private fileEntry(fileName: string): SchemaFile {
    const file = this.byFile.get(fileName);
    if (file === undefined) {
      throw new ConfigError(
        'schema',
        `no schema file "${fileName}" (known: ${this.fileNames.join(', ')})`,
        'use one of the known file names or add the .avsc file to the schemas directory',
      );
    }
    return file;
  }
}

function listSchemaFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => name.endsWith('.avsc')).sort();
  } catch (error) {
    throw new ConfigError(dir, `cannot read the schemas directory: ${errorMessage(error)}`, 'point the registry at the directory holding the .avsc files');
  }
}

function loadSchemaFile(dir: string, fileName: string): SchemaFile {
  const path = join(dir, fileName);
  const raw = readJson(path) as avroSchema.AvroSchema; // forSchema below checks the shape.
  let type: Type;
  try {
    type = avsc.Type.forSchema(raw);
  } catch (error) {
    throw new ConfigError(path, `is not a valid Avro schema: ${errorMessage(error)}`, 'correct the schema (see the Avro specification)');
  }
  return { fileName, raw: deepFreeze(raw), type };
}

/** Reads registry.json and checks every id and file it names. */
function readIds(dir: string, byFile: Map<string, SchemaFile>): Map<number, SchemaFile> {
  const path = join(dir, REGISTRY_FILE);
  const registry = readJson(path);
  const schemas = isObject(registry) ? registry.schemas : undefined;
  if (!isObject(schemas)) {
    throw new ConfigError(`${path} schemas`, 'is missing or not an object', 'write {"schemas": {"1": "payment.avsc"}}');
  }
  const fileById = new Map<number, SchemaFile>();
  const idOfFile = new Map<string, string>();
  for (const [key, fileName] of Object.entries(schemas)) {
    const field = `${path} schemas["${key}"]`;
    const id = Number(key);
    if (!/^[0-9]+$/.test(key) || id < 1 || id > MAX_SCHEMA_ID) {
      throw new ConfigError(field, 'the id is not an integer from 1 to 2147483647', 'use a positive integer id as the key');
    }
    if (typeof fileName !== 'string') {
      throw new ConfigError(field, 'the value is not a file name', 'map the id to an .avsc file name, e.g. "payment.avsc"');
    }
    const file = byFile.get(fileName);
    if (file === undefined) {
      throw new ConfigError(field, `names "${fileName}", which is not an .avsc file in ${dir}`, `add ${fileName} to ${dir} or fix the name`);
    }
    const otherKey = idOfFile.get(fileName);
    if (otherKey !== undefined) {
      throw new ConfigError(field, `"${fileName}" already has id ${otherKey}`, 'give each file one id (copy the file for a new version)');
    }
    idOfFile.set(fileName, key);
    fileById.set(id, file);
  }
  return fileById;
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, `cannot be read: ${errorMessage(error)}`, 'create the file or fix the path');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, `is not valid JSON: ${errorMessage(error)}`, 'fix the JSON syntax');
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
