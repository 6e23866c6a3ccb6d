// Loads dist/cli/<file> and runs its main(). A clone where `npm run build` has not run yet gets
// one line naming the fix instead of Node's module-resolution stack.
export async function runCompiled(name, file) {
  const url = new URL(`../dist/cli/${file}`, import.meta.url);
  let mod;
  try {
    mod = await import(url.href);
  } catch (e) {
    if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes(url.pathname)) {
      process.stderr.write(`${name}: ${url.pathname} is missing: the TypeScript is not compiled. In a clone run: npm run build\n`);
      return 1;
    }
    throw e;
  }
  return mod.main(process.argv.slice(2));
}
