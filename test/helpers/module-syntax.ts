/**
 * What a module file exports and imports, read from its syntax (TypeScript's parser, no
 * type-checking, so comments and strings never count): the exported names of src/index.ts or of
 * the built package's index.d.ts, each marked type-only or not, and the module specifiers a
 * source or declaration file imports.
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';

export interface ExportedNames {
  /** Names that exist at run time (functions, classes, constants). */
  values: string[];
  /** Names that exist in types only. */
  types: string[];
  /** Export forms that hide what they export. */
  hidden: string[];
}

export function exportedNames(file: string): ExportedNames {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const values: string[] = [];
  const types: string[] = [];
  const hidden: string[] = [];
  const exported = (node: ts.Node) => ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  for (const st of sf.statements) {
    if (ts.isExportDeclaration(st)) {
      if (st.exportClause === undefined || !ts.isNamedExports(st.exportClause)) {
        hidden.push(st.getText(sf));
        continue;
      }
      for (const el of st.exportClause.elements) (st.isTypeOnly || el.isTypeOnly ? types : values).push(el.name.text);
    } else if (ts.isExportAssignment(st)) {
      hidden.push(st.getText(sf));
    } else if (exported(st)) {
      if (ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st)) types.push(st.name.text);
      else if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) values.push(d.name.getText(sf));
      else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isEnumDeclaration(st)) && st.name !== undefined) values.push(st.name.text);
      else hidden.push(st.getText(sf));
    }
  }
  return { values: values.sort(), types: types.sort(), hidden };
}

/**
 * The module specifiers `file` imports or re-exports: static, type-only and dynamic imports, and
 * `import('...')` types of declaration files.
 */
export function importedSpecifiers(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const specs: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      specs.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] !== undefined && ts.isStringLiteral(node.arguments[0])) {
      specs.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      specs.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return specs;
}
