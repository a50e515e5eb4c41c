import { Help, Option } from 'commander';

/**
 * An option whose default is resolved by the command (a flag wins over an environment variable,
 * which wins over a fallback), so commander has no value to show: `description` is shown in
 * commander's own `(default: ...)` form instead, e.g. `(default: $FAROL_CA, else certs/ca.pem)`.
 */
export function optionWithDescribedDefault(flags: string, text: string, defaultDescription: string): Option {
  return new Option(flags, text).default(undefined, defaultDescription);
}

/**
 * Commander's help with one rule for defaults: every default is written `(default: ...)` at the
 * end of its option's line, by commander. Options resolved by the command carry a described
 * default (see optionWithDescribedDefault); an empty list (a repeatable flag given no times) is
 * no default worth a mention.
 */
export function helpConfiguration(): Partial<Help> {
  return {
    optionDescription(this: Help, option: Option): string {
      if (Array.isArray(option.defaultValue) && option.defaultValue.length === 0) {
        const clone = Object.assign(Object.create(Object.getPrototypeOf(option) as object) as Option, option, { defaultValue: undefined });
        return Help.prototype.optionDescription.call(this, clone);
      }
      const text = Help.prototype.optionDescription.call(this, option);
      if (option.defaultValue !== undefined || !option.defaultValueDescription) return text;
      return `${text} (default: ${option.defaultValueDescription})`;
    },
  };
}
