// Scores cache-tests (http-cache-tests on npm, https://cache-tests.fyi)
// result files the way the site does: a test without a kind, or of kind
// "required", passes only when its result is `true`; a test whose
// dependencies did not pass counts as not passed. Browser-only tests are
// left out. Usage (beside the package's `tests` directory):
//   node score.mjs results/varnish.json ours.json ...     # table
//   node score.mjs --failures ours.json                   # our failing required tests
//   node score.mjs --check baseline.txt ours.json         # exit 1 on a regression
//
// A baseline file holds `required N` (the fewest required tests that must
// pass) and the ids of the required tests allowed to fail, one a line
// (`#` starts a comment). --check fails when fewer than N pass, or when a
// required test fails that is not listed, and names the tests that newly
// fail; it also names listed tests that now pass (time to raise N).
import fs from 'fs'
import path from 'path'
import tests from './tests/index.mjs'
import surrogate from './tests/surrogate-control.mjs'

if (!tests.includes(surrogate)) tests.push(surrogate)

const all = new Map()
for (const suite of tests) for (const t of suite.tests) all.set(t.id, { ...t, suite: suite.id })
const required = [...all.values()].filter(t => (t.kind === undefined || t.kind === 'required') && t.browser_only !== true)

function passed (results, id, seen = new Set()) {
  if (seen.has(id)) return false
  seen.add(id)
  const t = all.get(id)
  if (!t) return false
  // as the site does: a dependency counts when it passed (or, for a check, said yes)
  for (const dep of t.depends_on || []) {
    if (!passed(results, dep, new Set(seen))) return false
  }
  return results[id] === true
}

const args = process.argv.slice(2)
if (args[0] === '--check') {
  process.exit(check(args[1], args[2]))
}
const failures = args[0] === '--failures'
const files = failures ? args.slice(1) : args
for (const f of files) {
  const results = JSON.parse(fs.readFileSync(f, 'utf8'))
  const ok = required.filter(t => passed(results, t.id))
  if (failures) {
    for (const t of required) {
      if (!passed(results, t.id)) {
        const r = results[t.id]
        console.log(`${t.suite}\t${t.id}\t${JSON.stringify(r === undefined ? 'untested' : r).slice(0, 200)}`)
      }
    }
  }
  const optimal = [...all.values()].filter(t => t.kind === 'optimal' && t.browser_only !== true)
  const optOk = optimal.filter(t => passed(results, t.id))
  console.log(`${path.basename(f, '.json').padEnd(16)} required ${String(ok.length).padStart(3)}/${required.length} (${(100 * ok.length / required.length).toFixed(1)}%)  optimal ${optOk.length}/${optimal.length}`)
}

/** Compares a result file with a baseline; returns the exit code. */
function check (baselineFile, resultFile) {
  const lines = fs.readFileSync(baselineFile, 'utf8').split('\n').map(l => l.replace(/#.*/, '').trim()).filter(Boolean)
  const want = lines.map(l => l.match(/^required\s+(\d+)$/)).find(m => m)
  if (!want) {
    console.log(`${baselineFile}: no \`required N\` line`)
    return 2
  }
  const floor = Number(want[1])
  const allowed = new Set(lines.filter(l => !/^required\s/.test(l)))
  for (const id of allowed) {
    if (!required.some(t => t.id === id)) {
      console.log(`${baselineFile}: \`${id}\` is not a required test of this suite`)
      return 2
    }
  }
  const results = JSON.parse(fs.readFileSync(resultFile, 'utf8'))
  const failing = required.filter(t => !passed(results, t.id))
  const count = required.length - failing.length
  const fresh = failing.filter(t => !allowed.has(t.id))
  const fixed = [...allowed].filter(id => !failing.some(t => t.id === id))
  console.log(`conformance: ${count}/${required.length} required tests pass; the baseline asks for at least ${floor}`)
  for (const t of fresh) {
    const r = results[t.id]
    console.log(`  NEWLY FAILING ${t.suite}/${t.id}: ${JSON.stringify(r === undefined ? 'untested' : r).slice(0, 200)}`)
  }
  for (const id of fixed) {
    console.log(`  now passing: ${id} (raise \`required\` and drop it from ${path.basename(baselineFile)})`)
  }
  if (count < floor || fresh.length > 0) {
    console.log(count < floor ? `FAIL: ${floor - count} fewer than the baseline` : 'FAIL: required tests fail that the baseline does not allow')
    return 1
  }
  console.log('ok')
  return 0
}
