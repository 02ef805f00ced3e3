// A YAML writer for the plain JSON values the exports produce (objects, arrays, numbers,
// booleans, strings): block style, strings quoted as JSON (valid YAML) when plain would mislead.

type Plain = string | number | boolean | null | Plain[] | { [k: string]: Plain };

function scalar(v: string | number | boolean | null): string {
  if (typeof v !== 'string') return String(v);
  const plain = /^[A-Za-z_][A-Za-z0-9_./-]*$/.test(v) && !/^(true|false|yes|no|on|off|null|y|n|~)$/i.test(v);
  return plain ? v : JSON.stringify(v);
}

function lines(v: Plain, indent: string): string[] {
  if (Array.isArray(v)) {
    if (v.length === 0) return ['[]'];
    if (v.every((x) => x === null || typeof x !== 'object')) return [`[${v.map((x) => scalar(x as string)).join(', ')}]`];
    const out: string[] = [];
    for (const item of v) {
      if (item !== null && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length > 0) {
        const sub = block(item, indent + '  ');
        out.push(`\n${indent}- ${sub[0].trimStart()}`, ...sub.slice(1).map((l) => `\n${l}`));
      } else {
        const rest = lines(item, indent + '  ').join('');
        out.push(`\n${indent}-${rest.startsWith('\n') ? '' : ' '}${rest}`);
      }
    }
    return out;
  }
  if (v !== null && typeof v === 'object') {
    if (Object.keys(v).length === 0) return ['{}'];
    return block(v, indent + '  ').map((l) => `\n${l}`);
  }
  return [scalar(v)];
}

function block(v: Plain, indent: string): string[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [indent + lines(v, indent).join('').trimStart()];
  return Object.entries(v).map(([k, x]) => {
    const rest = lines(x, indent).join('');
    return `${indent}${scalar(k)}:${rest.startsWith('\n') ? '' : ' '}${rest}`;
  });
}

/** YAML text of a plain value, ending in a newline. */
export function toYaml(value: unknown): string {
  return block(value as Plain, '').join('\n') + '\n';
}
