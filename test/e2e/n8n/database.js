// Reads an n8n SQLite database and prints JSON. Run with the Node that n8n's sqlite3 was built for (Node 24), with
// modules from n8n's own install (not the project's):
//   node database.js <n8n node_modules> <database.sqlite> executions   every execution: status, mode, workflow and,
//                                                                        per node, the items of each output
//   node database.js <n8n node_modules> <database.sqlite> static-data  every workflow's static data
// n8n stores run data encoded with `flatted`.
const path = require('node:path');

const [modules, database, query = 'executions'] = process.argv.slice(2);
const sqlite3 = require(path.join(modules, 'sqlite3'));
const flatted = require(path.join(modules, 'flatted'));

const db = new sqlite3.Database(database, sqlite3.OPEN_READONLY);
function fail(err) {
  console.error(err.message);
  process.exit(1);
}

function executions(rows) {
  return rows.map((row) => {
    const data = flatted.parse(row.data);
    const nodes = {};
    for (const [name, runs] of Object.entries(data.resultData?.runData ?? {}))
      nodes[name] = (runs[0]?.data?.main ?? []).map((items) => (items ?? []).map((item) => item.json));
    return {
      id: String(row.id),
      status: row.status,
      mode: row.mode,
      workflowId: row.workflowId,
      error: data.resultData?.error?.message ?? null,
      nodes,
    };
  });
}

const queries = {
  executions: [
    'SELECT e.id, e.status, e.mode, e.workflowId, d.data FROM execution_entity e ' +
      'JOIN execution_data d ON d.executionId = e.id ORDER BY e.id',
    executions,
  ],
  'static-data': [
    'SELECT id, staticData FROM workflow_entity ORDER BY id',
    (rows) => rows.map((row) => ({ id: row.id, staticData: row.staticData ? JSON.parse(row.staticData) : null })),
  ],
};

const [sql, shape] = queries[query] ?? fail(new Error(`unknown query ${query}`));
db.all(sql, (err, rows) => {
  if (err) fail(err);
  process.stdout.write(JSON.stringify(shape(rows)));
  db.close();
});
