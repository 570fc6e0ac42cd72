import { z } from 'zod';
import { deviceFileSchema } from '../devices/schema.js';
import {
  contactSchema,
  groupSchema,
  policiesSchema,
  rotationSchema,
  ruleFileSchema,
  ruleSchema,
} from '../rules/schema.js';
import { bridgeConfigSchema } from './bridge-schema.js';
import { DURATION_HINT, durationSchema } from './duration.js';

/**
 * JSON Schema (draft 7, what yaml-language-server and most editors read) of the files integrators edit,
 * generated from the zod schemas so that the two never disagree. `npm run schemas` writes them to
 * `schemas/*.schema.json`; a unit test checks that the committed files are current.
 */
export type SchemaName = 'bridge' | 'rules' | 'devices';

export const SCHEMA_FILES: Record<SchemaName, string> = {
  bridge: 'bridge.schema.json',
  rules: 'rules.schema.json',
  devices: 'devices.schema.json',
};

const TITLES: Record<SchemaName, string> = {
  bridge: 'mqtt-sms-bridge configuration (config/bridge.yaml)',
  rules: 'mqtt-sms-bridge rule file (config/rules/*.yaml)',
  devices: 'mqtt-sms-bridge device file (devices/*.yaml)',
};

const DURATION_PATTERN =
  '^(\\d+(\\.\\d+)?d)?(\\d+(\\.\\d+)?h)?(\\d+(\\.\\d+)?m)?(\\d+(\\.\\d+)?s)?(\\d+(\\.\\d+)?ms)?$';

/**
 * The rule file schema checks entries one by one at load time (to report every problem); for editors the
 * entries get their full shape.
 */
const ruleFileForEditors = ruleFileSchema.extend({
  contacts: z.record(z.string(), contactSchema).optional(),
  groups: z.record(z.string(), groupSchema).optional(),
  rules: z.array(ruleSchema).optional(),
  policies: policiesSchema.optional(),
  rotations: z.record(z.string(), rotationSchema).optional(),
});

const SOURCES: Record<SchemaName, z.ZodType> = {
  bridge: bridgeConfigSchema,
  rules: ruleFileForEditors,
  devices: deviceFileSchema,
};

type JsonObject = Record<string, unknown>;

/** The JSON Schema of one file kind. */
export function jsonSchemaOf(name: SchemaName): JsonObject {
  const schema = z.toJSONSchema(SOURCES[name], {
    target: 'draft-7',
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      if (ctx.zodSchema === durationSchema) {
        Object.assign(ctx.jsonSchema, {
          description: `${DURATION_HINT}`,
          anyOf: [
            { type: 'string', pattern: DURATION_PATTERN, minLength: 1 },
            { type: 'integer', minimum: 0 },
          ],
        });
      }
    },
  }) as JsonObject;
  if (name === 'bridge') allowSimulatorShorthand(schema);
  return { $schema: schema.$schema, title: TITLES[name], ...schema };
}

/** Every schema, serialised as committed: two-space JSON with a final newline. */
export function jsonSchemaFiles(): Array<{ file: string; text: string }> {
  return (Object.keys(SCHEMA_FILES) as SchemaName[]).map((name) => ({
    file: SCHEMA_FILES[name],
    text: `${JSON.stringify(jsonSchemaOf(name), null, 2)}\n`,
  }));
}

/** `simulator: true` is short for `simulator: { enabled: true }` (a preprocess step zod cannot describe). */
function allowSimulatorShorthand(schema: JsonObject): void {
  const properties = schema.properties as Record<string, JsonObject> | undefined;
  const simulator = properties?.simulator;
  if (!properties || !simulator) return;
  const { default: fallback, ...object } = simulator;
  properties.simulator = { default: fallback, anyOf: [{ type: 'boolean' }, object] };
}
