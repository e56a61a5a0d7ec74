// Module hooks registered by bin/tributary.js after tsx's: a project's .ts files (not .cts, not
// in node_modules) load as ES modules even when its package.json has no "type": "module".
// Without this, Node loads such a topology as CommonJS, and its `import ... from 'tributary'`
// fails with ERR_REQUIRE_CYCLE_MODULE. Hooks registered later run first, so this resolve sees
// tsx's answer and only changes the format.
export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  if (result.url.startsWith('file:') && result.url.endsWith('.ts') && !result.url.includes('/node_modules/')) {
    return { ...result, format: 'module' };
  }
  return result;
}
