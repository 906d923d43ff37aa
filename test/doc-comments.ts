/**
 * What lib/index.ts exports without a doc comment, found with the TypeScript compiler API: every
 * exported declaration, and every public member of an exported class or interface (methods, getters,
 * properties: what an editor's hover shows). A member that overrides a documented base-class member
 * counts as documented, as the editor's hover shows the base's comment for it.
 */
import ts from "typescript";
import { fileURLToPath } from "node:url";

const INDEX = fileURLToPath(new URL("../lib/index.ts", import.meta.url));

/** "Name" or "Name.member" for each export of lib/index.ts (or member of one) that has no doc comment. */
export function undocumentedExports(): string[] {
  const program = ts.createProgram([INDEX], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const index = checker.getSymbolAtLocation(program.getSourceFile(INDEX)!)!;
  const missing = new Set<string>();
  const documented = (s: ts.Symbol): boolean =>
    ts.displayPartsToString(s.getDocumentationComment(checker)).trim().length > 0;
  const isPublic = (s: ts.Symbol): boolean =>
    !(s.declarations ?? []).some((d) => {
      const flags = ts.getCombinedModifierFlags(d as ts.Declaration);
      return (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0 || (ts.isPropertyDeclaration(d) || ts.isMethodDeclaration(d)) && ts.isPrivateIdentifier(d.name);
    });
  // Members marked @internal are left out of the docs (typedoc's excludeInternal), so need no comment.
  const internal = (s: ts.Symbol): boolean => s.getJsDocTags(checker).some((t) => t.name === "internal");
  const inLib = (s: ts.Symbol): boolean => (s.declarations ?? []).some((d) => !d.getSourceFile().isDeclarationFile);
  const members = (owner: string, props: ts.Symbol[]): void => {
    for (const m of props) {
      if (m.name === "prototype" || m.name.startsWith("__") || !isPublic(m) || !inLib(m) || internal(m)) continue;
      if (!documented(m)) missing.add(`${owner}.${m.name}`);
    }
  };
  for (const exp of checker.getExportsOfModule(index)) {
    const sym = exp.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exp) : exp;
    if (!documented(sym)) missing.add(exp.name);
    if (sym.flags & ts.SymbolFlags.Class) {
      members(exp.name, checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(sym)));
      members(exp.name, checker.getPropertiesOfType(checker.getTypeOfSymbol(sym)));
    } else if (sym.flags & ts.SymbolFlags.Interface) {
      members(exp.name, checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(sym)));
    }
  }
  return [...missing].sort();
}
