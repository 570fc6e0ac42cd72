import { z } from 'zod';
import { argPatternProblem } from './arg-pattern.js';
import { passwordHashProblem } from './password.js';

/**
 * The format of `devices/*.yaml`. A file names a device `type`; when it has `commands` it defines that type's
 * commands (one file per type), otherwise its devices use a type another file defines. Load-time checks that
 * need more than one file (unknown types, duplicate ids, unknown operators) live in `registry.ts`.
 */

/** Device ids: letters, digits, `_` and `-`; they appear in topics (`devices/<id>/...`) and in SMS. */
export const DEVICE_ID = /^[A-Za-z0-9_-]+$/;
/** Words of the SMS grammar that cannot be device ids (`STATUS PUMP-7`, `ACK 42`, `HELP`, `PIN 1234 ...`). */
export const RESERVED_DEVICE_IDS: readonly string[] = ['ack', 'status', 'help', 'pin'];
/** Words the SMS grammar reads after a device (`PUMP-7 STATUS`, `PUMP-7 HELP`, trailing `PIN 1234`). */
export const RESERVED_COMMANDS: readonly string[] = ['status', 'help', 'pin'];
/** `{{args.name}}` in a command payload; group 1 is what is inside the braces. */
export const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

const COMMAND_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ARG_REF = /^args\.([A-Za-z_][A-Za-z0-9_]*)$/;

const argName = z
  .string()
  .regex(ARG_NAME, 'expected a name of letters, digits and _ (used as {{args.<name>}})');

const numberArgSchema = z
  .object({
    /** Name used in `{{args.<name>}}`. Required. */
    name: argName,
    type: z.literal('number'),
    /** Smallest accepted value. Default: no lower bound. */
    min: z.number().optional(),
    /** Largest accepted value. Default: no upper bound. */
    max: z.number().optional(),
    /** Accept whole numbers only. Default `false`. */
    integer: z.boolean().default(false),
  })
  .strict();

const enumArgSchema = z
  .object({
    /** Name used in `{{args.<name>}}`. Required. */
    name: argName,
    type: z.literal('enum'),
    /** Accepted words (matched case-insensitively; the value published is the one written here). Required. */
    values: z.array(z.union([z.string().min(1), z.number()])).min(1),
  })
  .strict();

const stringArgSchema = z
  .object({
    /** Name used in `{{args.<name>}}`. Required. */
    name: argName,
    type: z.literal('string'),
    /**
     * Regular expression (RE2 syntax, matched in linear time) the whole word must match, as typed
     * (case-sensitive). Default: any word.
     */
    pattern: z.string().min(1).optional(),
    /** Longest accepted word. Default `40`. */
    max_length: z.number().int().min(1).max(160).default(40),
  })
  .strict();

export const argSchema = z.discriminatedUnion('type', [numberArgSchema, enumArgSchema, stringArgSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? 'expected type: number, enum or string' : undefined),
});

export const commandSchema = z
  .object({
    /** Arguments, in the order they are written in the SMS. Default `[]`. */
    args: z.array(argSchema).default([]),
    /** What is published to the device; strings may hold `{{args.<name>}}`. Required. */
    payload: z.record(z.string(), z.unknown()),
  })
  .strict()
  .superRefine((command, ctx) => {
    checkArgs(command, ctx);
    checkPayload(command.payload, new Set(command.args.map((a) => a.name)), ['payload'], ctx);
  });

const commandName = z.string().superRefine((name, ctx) => {
  if (!COMMAND_NAME.test(name)) {
    ctx.addIssue({
      code: 'custom',
      message: `command '${name}': expected one word (letters, digits, _ or -)`,
    });
  } else if (RESERVED_COMMANDS.includes(name.toLowerCase())) {
    ctx.addIssue({ code: 'custom', message: `'${name}' is a word of the SMS grammar, not a command name` });
  }
});

const commandsSchema = z
  .record(commandName, commandSchema, {
    error: (issue) => (issue.code === 'invalid_key' ? issue.issues?.[0]?.message : undefined),
  })
  .superRefine((commands, ctx) => {
    const seen = new Map<string, string>();
    for (const name of Object.keys(commands)) {
      const other = seen.get(name.toLowerCase());
      if (other !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `command '${name}' repeats '${other}' (SMS ignores case)`,
        });
      }
      seen.set(name.toLowerCase(), name);
    }
  });

export const deviceSchema = z
  .object({
    /** Unique across all device files (case-insensitively); the MQTT user name and `devices/<id>/...`. Required. */
    id: z
      .string()
      .regex(DEVICE_ID, 'expected letters, digits, _ or -')
      .refine((id) => !RESERVED_DEVICE_IDS.includes(id.toLowerCase()), {
        error: (issue) => `'${String(issue.input)}' is a word of the SMS grammar, not a device id`,
      }),
    /** Display name, also accepted in SMS where unambiguous. Default: the id. */
    name: z.string().trim().min(1).optional(),
    /** MQTT password as `scrypt:N:r:p:salt:hash` (`mqtt-sms-bridge hash-password`); never plain. Required. */
    password_hash: z.string().superRefine((hash, ctx) => {
      const problem = passwordHashProblem(hash);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    /** Contacts or groups (from the rule files) who may command it by SMS. Default `[]`. */
    operators: z.array(z.string().min(1)).default([]),
    /** MQTT client ids reserved for this device besides its id (no other account may use them). Default `[]`. */
    client_ids: z
      .array(z.string().regex(/^[\x21-\x7e]{1,128}$/, 'expected 1-128 printable ASCII characters'))
      .default([]),
  })
  .strict();

export const deviceFileSchema = z
  .object({
    /** Device type; the file with `commands` defines it. Required. */
    type: z.string().regex(DEVICE_ID, 'expected letters, digits, _ or -'),
    /** Commands of this type by name; leave out to use a type defined in another file. Default: none. */
    commands: commandsSchema.optional(),
    /** Devices of this type. Default `[]`. */
    devices: z.array(deviceSchema).default([]),
  })
  .strict();

export type ArgSpec = z.output<typeof argSchema>;
export type CommandSpec = z.output<typeof commandSchema>;
export type DeviceSpec = z.output<typeof deviceSchema>;
export type DeviceFile = z.output<typeof deviceFileSchema>;

function checkArgs(command: { args: ArgSpec[] }, ctx: z.RefinementCtx): void {
  const names = new Set<string>();
  command.args.forEach((arg, i) => {
    const path = ['args', i];
    if (names.has(arg.name))
      ctx.addIssue({ code: 'custom', path: [...path, 'name'], message: `duplicate argument '${arg.name}'` });
    names.add(arg.name);
    if (arg.type === 'number' && arg.min !== undefined && arg.max !== undefined && arg.min > arg.max) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'max'],
        message: `max (${arg.max}) is below min (${arg.min})`,
      });
    }
    if (arg.type === 'enum') {
      const words = new Set<string>();
      arg.values.forEach((value, j) => {
        const word = String(value).toLowerCase();
        if (!/^\S+$/.test(word)) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'values', j],
            message: 'expected one word, without spaces',
          });
        }
        if (words.has(word)) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'values', j],
            message: `duplicate value '${value}' (SMS ignores case)`,
          });
        }
        words.add(word);
      });
    }
    if (arg.type === 'string' && arg.pattern !== undefined) {
      const problem = argPatternProblem(arg.pattern);
      if (problem) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'pattern'],
          message: `not a regular expression RE2 accepts (no backreferences or lookaround): ${problem}`,
        });
      }
    }
  });
}

function checkPayload(
  value: unknown,
  args: Set<string>,
  path: Array<string | number>,
  ctx: z.RefinementCtx,
): void {
  if (typeof value === 'string') {
    for (const match of value.matchAll(PLACEHOLDER)) {
      const ref = ARG_REF.exec(match[1] ?? '');
      if (!ref) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `unknown placeholder '${match[0]}'; expected {{args.<name>}}`,
        });
      } else if (!args.has(ref[1]!)) {
        const known =
          args.size > 0 ? `; arguments: ${[...args].join(', ')}` : '; this command has no arguments';
        ctx.addIssue({
          code: 'custom',
          path,
          message: `'${match[0]}' names no argument of this command${known}`,
        });
      }
    }
  } else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) checkPayload(item, args, [...path, i], ctx);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) checkPayload(item, args, [...path, key], ctx);
  }
}
