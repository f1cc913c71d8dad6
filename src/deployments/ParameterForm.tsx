// A form for papermill-style parameters, generated from a JSON schema (a notebook's
// parameters cell or a flow's signature: docs/server-api.md, `parameter_schema`).
//
// Fields: a checkbox for bool; a text box for str, int and float; a JSON box for list and
// dict; a text box read as papermill's `-p` reads it for a parameter without a type
// (`None`, `True`, `3`, `0.5`, else the text). Only the fields the user changed are sent,
// so a default is never overwritten by its own display (nor a masked secret by "********").
// Values the server cannot take are refused by the server, whose one-line message the
// dialog shows; the field it names is marked.
import React from 'react';

import { JSONSchema } from '../api';

export type FieldValue = string | boolean;
export type FieldValues = Record<string, FieldValue>;

type Kind = 'boolean' | 'integer' | 'number' | 'string' | 'array' | 'object' | 'any';

export interface Field {
  name: string;
  kind: Kind;
  typeLabel: string;
  required: boolean;
  initial: FieldValue;
}

function kindOf(property: JSONSchema): Kind {
  const type = Array.isArray(property.type) ? property.type[0] : property.type;
  switch (type) {
    case 'boolean':
    case 'integer':
    case 'number':
    case 'string':
    case 'array':
    case 'object':
      return type;
    default:
      return 'any';
  }
}

const TYPE_LABELS: Record<Kind, string> = {
  boolean: 'bool',
  integer: 'int',
  number: 'float',
  string: 'str',
  array: 'list (JSON)',
  object: 'dict (JSON)',
  any: 'any'
};

/** How a value is shown in a field of `kind`. */
export function toText(kind: Kind, value: unknown): FieldValue {
  if (kind === 'boolean') {
    return value === true;
  }
  if (value === undefined) {
    return '';
  }
  if (kind === 'any') {
    if (value === null) {
      return 'None';
    }
    if (typeof value === 'boolean') {
      return value ? 'True' : 'False';
    }
    if (typeof value === 'string' || typeof value === 'number') {
      return String(value);
    }
    return JSON.stringify(value);
  }
  if (value === null) {
    return '';
  }
  if (kind === 'array' || kind === 'object') {
    return typeof value === 'string' ? value : JSON.stringify(value);
  }
  if (kind === 'number' && typeof value === 'number' && Number.isInteger(value)) {
    return value.toFixed(1); // a float shown as one: 1.0, not 1
  }
  return String(value);
}

/** A field's text as the value sent: numbers and JSON parsed when they parse, else the text
 * as typed (the server then refuses it in one line naming the parameter). */
export function fromText(kind: Kind, text: FieldValue): unknown {
  if (typeof text === 'boolean') {
    return text;
  }
  switch (kind) {
    case 'integer':
    case 'number': {
      const trimmed = text.trim();
      const parsed = Number(trimmed);
      return trimmed !== '' && Number.isFinite(parsed) && (kind === 'number' || Number.isInteger(parsed))
        ? parsed
        : text;
    }
    case 'array':
    case 'object':
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    case 'any': {
      // papermill's `-p` reading of a value for a parameter that declares no type
      const constants: Record<string, unknown> = { None: null, True: true, False: false };
      if (text in constants) {
        return constants[text];
      }
      const trimmed = text.trim();
      if (/^[-+]?\d+$/.test(trimmed)) {
        return Number(trimmed);
      }
      if (trimmed !== '' && Number.isFinite(Number(trimmed))) {
        return Number(trimmed);
      }
      return text;
    }
    default:
      return text;
  }
}

/** The form's fields: every property of `schema`, shown with `values` (else its default). */
export function fieldsOf(schema: JSONSchema | null | undefined, values: Record<string, unknown> = {}): Field[] {
  const properties: Record<string, JSONSchema> = schema?.properties ?? {};
  const required = new Set<string>(schema?.required ?? []);
  return Object.entries(properties).map(([name, property]) => {
    const kind = kindOf(property);
    const value = name in values ? values[name] : property.default;
    return {
      name,
      kind,
      typeLabel: TYPE_LABELS[kind],
      required: required.has(name) && !('default' in property),
      initial: toText(kind, value)
    };
  });
}

/** The parameters to send: the fields whose value differs from what the form started with. */
export function changedParameters(fields: Field[], current: FieldValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const value = field.name in current ? current[field.name] : field.initial;
    if (value !== field.initial) {
      out[field.name] = fromText(field.kind, value);
    }
  }
  return out;
}

/** The parameter a server message names (`parameter 'days' expects int, got 'x'`). */
export function namedParameter(message: string | null): string | null {
  const match = message?.match(/parameter '([^']+)'/);
  return match ? match[1] : null;
}

const HINTS: Partial<Record<Kind, string>> = {
  array: 'JSON, e.g. ["a", "b"]',
  object: 'JSON, e.g. {"key": 1}',
  any: 'None, True, 3, 0.5 or text'
};

export interface ParameterFormProps {
  fields: Field[];
  values: FieldValues;
  onChange: (name: string, value: FieldValue) => void;
  /** The parameter the last error named, marked in the form. */
  invalid?: string | null;
  /** Shown when there are no fields. */
  empty?: string;
  idPrefix: string;
}

export function ParameterForm(props: ParameterFormProps): JSX.Element {
  if (!props.fields.length) {
    return (
      <p className="onb-muted onb-d-form__empty" data-testid="onb-params-empty">
        {props.empty ?? 'No parameters.'}
      </p>
    );
  }
  return (
    <div className="onb-d-params" data-testid="onb-params">
      {props.fields.map(field => {
        const id = `${props.idPrefix}-${field.name}`;
        const value = field.name in props.values ? props.values[field.name] : field.initial;
        const changed = value !== field.initial;
        const invalid = props.invalid === field.name;
        const common = {
          id,
          name: field.name,
          'data-testid': `onb-param-${field.name}`,
          'aria-invalid': invalid || undefined,
          className: `onb-d-input${invalid ? ' onb-d-input--invalid' : ''}`
        };
        let input: JSX.Element;
        if (field.kind === 'boolean') {
          input = (
            <input
              {...common}
              className="onb-d-checkbox"
              type="checkbox"
              checked={value === true}
              onChange={event => props.onChange(field.name, event.target.checked)}
            />
          );
        } else if (field.kind === 'array' || field.kind === 'object') {
          input = (
            <textarea
              {...common}
              rows={2}
              spellCheck={false}
              placeholder={HINTS[field.kind]}
              value={value as string}
              onChange={event => props.onChange(field.name, event.target.value)}
            />
          );
        } else {
          input = (
            <input
              {...common}
              type="text"
              spellCheck={false}
              inputMode={field.kind === 'integer' || field.kind === 'number' ? 'decimal' : undefined}
              placeholder={field.required ? 'required' : HINTS[field.kind]}
              value={value as string}
              onChange={event => props.onChange(field.name, event.target.value)}
            />
          );
        }
        return (
          <div key={field.name} className={`onb-d-params__row${changed ? ' onb-d-params__row--changed' : ''}`}>
            <label htmlFor={id} className="onb-d-params__label">
              <span className="onb-d-params__name">{field.name}</span>
              <span className="onb-d-params__type">{field.typeLabel}</span>
            </label>
            <div className="onb-d-params__input">{input}</div>
          </div>
        );
      })}
    </div>
  );
}
