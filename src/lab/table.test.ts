import { test } from "node:test";
import assert from "node:assert/strict";
import { formatTable } from "./table.ts";

test("columns are padded to the widest cell, three spaces apart, without trailing blanks", () => {
  assert.equal(
    formatTable(["NAME", "IP", "STATUS"], [["web", "10.244.1.2", "Running"], ["database", "<none>", "ContainerCreating"]]),
    "NAME       IP           STATUS\nweb        10.244.1.2   Running\ndatabase   <none>       ContainerCreating\n",
  );
  assert.equal(formatTable(["A", "B"], []), "A   B\n");
});
