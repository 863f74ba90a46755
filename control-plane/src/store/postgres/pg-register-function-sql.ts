/**
 * The body of `weft_register_batch` as schema migration 9 defines it
 * (pg-migrations.ts; migration 7 created the first version). What it does and
 * answers is stated at migration 7 and in pg-register-function.ts; version 9
 * keeps that contract and changes four things:
 *
 * - It reads the writes as jsonb, parsed once. Version 7 read them as json,
 *   which PostgreSQL parses again at every `->` (a write's fields are read
 *   some thirty times): a quarter of the function's CPU went to the parser.
 * - It runs as few SQL statements per write as it can: each statement inside
 *   a function costs an executor start and end (tens of microseconds), and
 *   version 7 ran about nine per registration of one instance. A
 *   registration now reads its agent and its first instance's row in one
 *   statement (further instances one by one) and writes its changed
 *   instances in one; loops over the writes and their instances are plpgsql
 *   loops over jsonb, not queries; a health change is one UPDATE. Measured
 *   from psql on a schema the bench had filled (16,000 instances; round trip
 *   and COMMIT included), batches of 1, 9 and 27 one-instance registrations:
 *   1.19, 3.98 and 9.20 ms with version 7; 1.06, 3.65 and 6.61 ms with 9.
 *   A registration that names one instance id twice (which the API refuses
 *   before it gets here) is declined to the per-write path (WFRTE).
 * - Its notice names the agents whose row the batch changed (new, or a new
 *   hostname or version), not every agent that registered: the other
 *   replicas read those rows again, and an unchanged one told them nothing
 *   (a lease is bookkeeping they do not hold; an agent that moved never
 *   reaches this function).
 * - It keeps `service_versions.instance_count` (migration 9): each write
 *   adds +1 for an instance id new to a service and -1 for one that left it,
 *   and the batch applies the sums with the versions. A service whose row is
 *   missing, or whose count would fall to zero or below, is counted afresh
 *   instead (the rare cases: a service created or emptied), and loses its row
 *   when it has no instances left. Replicas'
 *   catch-up reads take the count from there instead of counting the
 *   service's rows at every read (pg-registry-store.ts agentsAndInstances).
 */
/**
 * How the three functions below are planned. Their statements' plans are made
 * once per connection, at the first call, whatever the tables then held (the
 * planner would otherwise plan the ones taking an array again at every call);
 * no hash or merge joins, since their joins are a few rows of the batch
 * against a large table, and a plan made on an empty schema would hash the
 * large side; no JIT: the statements are microseconds each, compiling them
 * costs milliseconds.
 */
const PLANNED_ONCE = 'SET plan_cache_mode = force_generic_plan SET jit = off SET enable_hashjoin = off SET enable_mergejoin = off';

export const REGISTER_BATCH_FUNCTION_V9 = `
  -- Whether a batch is independent (see weft_register_independent), against the rows as committed now.
  CREATE FUNCTION weft_registrations_independent(ws jsonb) RETURNS boolean LANGUAGE plpgsql
  ${PLANNED_ONCE}
  AS $$
  BEGIN
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(ws) AS t(v) WHERE t.v->>'op' = 'set_health' OR (t.v->>'replace_all')::boolean) THEN
      RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(ws) AS t(v)
        LEFT JOIN LATERAL (SELECT * FROM agents g WHERE g.agent_id = t.v->'agent'->>'agent_id' OFFSET 0) g ON true
        WHERE g.agent_id IS NULL OR g.address <> t.v->'agent'->>'address'
          OR g.inbound_port <> (t.v->'agent'->>'inbound_port')::int OR g.zone <> t.v->'agent'->>'zone'
          OR g.hostname <> t.v->'agent'->>'hostname' OR g.version <> t.v->'agent'->>'version') THEN
      RETURN false;
    END IF;
    IF (SELECT count(*) <> count(DISTINCT x.v->>'instance_id')
        FROM jsonb_array_elements(ws) AS t(v), jsonb_array_elements(t.v->'instances') AS x(v)) THEN
      RETURN false;
    END IF;
    RETURN true;
  END
  $$;

  -- A batch of independent registrations, as a few statements for the whole batch instead of a few per write
  -- (called by weft_register_batch under the commit lock, with its revision base). Independent: every write is a
  -- registration without replace_all, no instance id appears twice in the batch, and every agent is stored and
  -- unchanged (same address, port, zone, hostname and version: only its lease may change). Then no write's
  -- outcome depends on another's, so all are decided against the rows as committed, in one statement: a write
  -- naming an instance of another agent fails alone (the first such instance), the writes that change rows get
  -- revisions in order, a write that changes nothing reports the batch's revision so far. Answers exactly what
  -- the loop of weft_register_batch answers for the same batch (o_outs in write order, o_versions: service ->
  -- revision of its last change, o_deltas: service -> instances gained, o_last: the last revision taken). The
  -- caller has checked the batch is independent (weft_registrations_independent).
  CREATE FUNCTION weft_register_independent(ws jsonb, floor bigint, base bigint,
    OUT o_outs json[], OUT o_versions jsonb, OUT o_deltas jsonb, OUT o_last bigint)
  LANGUAGE plpgsql
  ${PLANNED_ONCE}
  AS $$
  BEGIN
    WITH w AS (
      SELECT t.ord::int AS ord, t.v AS wr, t.v->'agent'->>'agent_id' AS aid FROM jsonb_array_elements(ws) WITH ORDINALITY AS t(v, ord)
    ),
    i AS (
      SELECT w.ord, w.aid, (x.pos - 1)::int AS pos, x.v AS inst, x.v->>'instance_id' AS iid, x.v->>'service' AS svc
      FROM w CROSS JOIN LATERAL jsonb_array_elements(w.wr->'instances') WITH ORDINALITY AS x(v, pos)
    ),
    o AS (
      SELECT i.*, r.prev FROM i
      LEFT JOIN LATERAL (SELECT to_jsonb(x) AS prev FROM instances x WHERE x.instance_id = i.iid OFFSET 0) r ON true
    ),
    c AS (
      SELECT DISTINCT ON (o.ord) o.ord, o.pos, o.prev->>'agent_id' AS owner FROM o
      WHERE o.prev IS NOT NULL AND o.prev->>'agent_id' <> o.aid ORDER BY o.ord, o.pos
    ),
    ch AS (
      SELECT o.* FROM o WHERE NOT EXISTS (SELECT 1 FROM c WHERE c.ord = o.ord)
        AND (o.prev IS NULL OR (o.prev - 'revision') <> o.inst)
    ),
    r AS (
      SELECT d.ord, base + row_number() OVER (ORDER BY d.ord) AS rev FROM (SELECT DISTINCT ch.ord FROM ch) d
    ),
    ins AS (
      INSERT INTO instances (instance_id, service, agent_id, address, port, zone, weight, tags, metadata, health, protocol, revision)
        SELECT p.instance_id, p.service, ch.aid, p.address, p.port, p.zone, p.weight, p.tags, p.metadata, p.health, p.protocol, r.rev
        FROM ch JOIN r ON r.ord = ch.ord CROSS JOIN LATERAL jsonb_populate_record(NULL::instances, ch.inst) AS p
        ON CONFLICT (instance_id) DO UPDATE SET service = excluded.service, agent_id = excluded.agent_id,
          address = excluded.address, port = excluded.port, zone = excluded.zone, weight = excluded.weight,
          tags = excluded.tags, metadata = excluded.metadata, health = excluded.health, protocol = excluded.protocol,
          revision = excluded.revision
        RETURNING 1
    ),
    lease AS (
      SELECT DISTINCT ON (w.aid) w.aid, (w.wr->>'lease')::bigint AS ms FROM w
      WHERE (w.wr->>'has_lease')::boolean AND NOT EXISTS (SELECT 1 FROM c WHERE c.ord = w.ord)
      ORDER BY w.aid, w.ord DESC
    ),
    upl AS (
      UPDATE agents g SET lease_expires_at_ms = lease.ms FROM lease
      WHERE g.agent_id = lease.aid AND g.lease_expires_at_ms IS DISTINCT FROM lease.ms
      RETURNING 1
    ),
    chg AS (
      SELECT e.ord, json_agg(e.item ORDER BY e.pos, e.k) AS items FROM (
        SELECT ch.ord, ch.pos, 0 AS k, json_build_array(ch.prev->>'service', ch.iid, 'd') AS item FROM ch
          WHERE ch.prev IS NOT NULL AND ch.prev->>'service' <> ch.svc
        UNION ALL SELECT ch.ord, ch.pos, 1, json_build_array(ch.svc, ch.iid, 'u') FROM ch
      ) e GROUP BY e.ord
    ),
    names AS (
      SELECT n.ord, array_agg(DISTINCT n.s) AS list FROM (
        SELECT ch.ord, ch.prev->>'service' AS s FROM ch WHERE ch.prev IS NOT NULL
        UNION ALL SELECT ch.ord, ch.svc FROM ch
      ) n GROUP BY n.ord
    ),
    per_service AS (
      SELECT m.s, max(m.rev) AS rev, sum(m.d) AS d FROM (
        SELECT ch.svc AS s, r.rev, CASE WHEN ch.prev IS NULL OR ch.prev->>'service' <> ch.svc THEN 1 ELSE 0 END AS d
          FROM ch JOIN r ON r.ord = ch.ord
        UNION ALL SELECT ch.prev->>'service', r.rev, -1 FROM ch JOIN r ON r.ord = ch.ord
          WHERE ch.prev IS NOT NULL AND ch.prev->>'service' <> ch.svc
      ) m GROUP BY m.s
    ),
    answers AS (
      SELECT w.ord, CASE
        WHEN c.ord IS NOT NULL THEN json_build_object('ok', false, 'conflict', c.pos, 'owner', c.owner)
        WHEN r.ord IS NOT NULL THEN json_build_object('ok', true, 'revision', r.rev, 'services', to_json(names.list), 'changes', chg.items)
        ELSE json_build_object('ok', true, 'revision', greatest(floor, base, (SELECT max(r2.rev) FROM r r2 WHERE r2.ord < w.ord)),
          'services', '[]'::json, 'changes', '[]'::json)
        END AS answer
      FROM w LEFT JOIN c ON c.ord = w.ord LEFT JOIN r ON r.ord = w.ord
        LEFT JOIN chg ON chg.ord = w.ord LEFT JOIN names ON names.ord = w.ord
    )
    SELECT (SELECT array_agg(answers.answer ORDER BY answers.ord) FROM answers),
           (SELECT coalesce(jsonb_object_agg(per_service.s, per_service.rev), '{}') FROM per_service),
           (SELECT coalesce(jsonb_object_agg(per_service.s, per_service.d), '{}') FROM per_service),
           (SELECT coalesce(max(r.rev), base) FROM r)
      INTO o_outs, o_versions, o_deltas, o_last;
  END
  $$;

  CREATE OR REPLACE FUNCTION weft_register_batch(writes json, floor bigint, notice_channel text, notice_template text)
  RETURNS SETOF json LANGUAGE plpgsql
  -- Every lookup is by one key of a unique index (a plan made on an empty schema picks an index for that, and
  -- stays right when the tables grow; an '= ANY(array)' plan made then scans the table).
  ${PLANNED_ONCE}
  AS $$
  DECLARE
    ws jsonb := writes::jsonb;
    w jsonb;
    a jsonb;
    insts jsonb;
    inst jsonb;
    o jsonb;
    olds jsonb;
    row_agent jsonb;
    changed jsonb;
    aid text;
    id text;
    s text;
    ids text[];
    upd instances%ROWTYPE;
    gone record;
    vs record;
    conflict int;
    base bigint;
    counter bigint;
    current_rev bigint;
    rev bigint;
    n bigint;
    svc text[];
    changes json[];
    out json[] := '{}';
    all_services text[] := '{}';
    all_agents text[] := '{}';
    versions jsonb := '{}';
    deltas jsonb := '{}';
    payload text;
  BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '') || ':weft-registry-commit'));
    -- New statements from here on: each sees every batch committed before the lock was ours.
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO base FROM registry_revision;
    counter := base;
    current_rev := greatest(floor, base);
    IF weft_registrations_independent(ws) THEN
      SELECT x.o_outs, x.o_versions, x.o_deltas, x.o_last INTO out, versions, deltas, counter
        FROM weft_register_independent(ws, floor, base) AS x;
      -- An independent batch (see weft_register_independent): decided and written as a whole.
      all_services := ARRAY(SELECT jsonb_object_keys(versions));
      current_rev := greatest(current_rev, counter);
    ELSE
      FOR k IN 0 .. jsonb_array_length(ws) - 1 LOOP
        w := ws->k;
        IF w->>'op' = 'set_health' THEN
          -- As the per-write path's setHealth: the instance must be the agent's; the same health changes nothing.
          aid := w->>'agent_id';
          UPDATE instances SET health = w->>'health', revision = counter + 1
            WHERE instance_id = w->>'instance_id' AND agent_id = aid AND health <> w->>'health'
            RETURNING * INTO upd;
          IF NOT FOUND THEN
            IF EXISTS (SELECT 1 FROM instances WHERE instance_id = w->>'instance_id' AND agent_id = aid) THEN
              out := out || json_build_object('ok', true, 'revision', current_rev, 'services', '[]'::json, 'changes', '[]'::json);
            ELSE
              out := out || json_build_object('ok', false, 'not_found', true);
            END IF;
            CONTINUE;
          END IF;
          counter := counter + 1;
          rev := counter;
          current_rev := greatest(current_rev, rev);
          out := out || json_build_object('ok', true, 'revision', rev, 'services', json_build_array(upd.service),
            'changes', json_build_array(json_build_array(upd.service, upd.instance_id, 'h')), 'row', row_to_json(upd));
          all_services := all_services || upd.service;
          versions := versions || jsonb_build_object(upd.service, rev);
          CONTINUE;
        END IF;
        a := w->'agent';
        aid := a->>'agent_id';
        insts := w->'instances';
        ids := '{}';
        FOR i IN 0 .. jsonb_array_length(insts) - 1 LOOP
          id := insts->i->>'instance_id';
          IF id = ANY(ids) THEN
            RAISE EXCEPTION 'instance % named twice in one registration', id USING ERRCODE = 'WFRTE';
          END IF;
          ids := ids || id;
        END LOOP;
        -- The agent and every row the write names, as committed before it (and as earlier writes of this batch
        -- left them): the agent and the first instance in one statement (a registration names one instance, as
        -- a rule), any others one by one.
        SELECT (SELECT to_jsonb(g) FROM agents g WHERE g.agent_id = aid),
               (SELECT to_jsonb(x) FROM instances x WHERE x.instance_id = ids[1])
          INTO row_agent, o;
        olds := CASE WHEN o IS NULL THEN '{}'::jsonb ELSE jsonb_build_object(ids[1], o) END;
        FOR i IN 2 .. cardinality(ids) LOOP
          SELECT to_jsonb(x) INTO o FROM instances x WHERE x.instance_id = ids[i];
          IF FOUND THEN
            olds := olds || jsonb_build_object(ids[i], o);
          END IF;
        END LOOP;
        -- An instance id owned by another agent fails this write alone, before it changes anything.
        conflict := NULL;
        FOR i IN 0 .. cardinality(ids) - 1 LOOP
          o := olds->ids[i + 1];
          IF o IS NOT NULL AND o->>'agent_id' <> aid THEN
            conflict := i;
            EXIT;
          END IF;
        END LOOP;
        IF conflict IS NOT NULL THEN
          out := out || json_build_object('ok', false, 'conflict', conflict, 'owner', o->>'agent_id');
          CONTINUE;
        END IF;
        rev := NULL;
        svc := '{}';
        changes := '{}';
        IF row_agent IS NULL THEN
          counter := counter + 1;
          rev := counter;
          INSERT INTO agents (agent_id, hostname, address, inbound_port, zone, version, lease_expires_at_ms, revision)
            VALUES (aid, a->>'hostname', a->>'address', (a->>'inbound_port')::int, a->>'zone', a->>'version',
              CASE WHEN (w->>'has_lease')::boolean THEN (w->>'lease')::bigint END, rev);
          all_agents := all_agents || aid;
        ELSE
          IF row_agent->>'address' IS DISTINCT FROM a->>'address'
            OR row_agent->>'inbound_port' IS DISTINCT FROM a->>'inbound_port'
            OR row_agent->>'zone' IS DISTINCT FROM a->>'zone' THEN
            RAISE EXCEPTION 'agent % moved: its services must be read back', aid USING ERRCODE = 'WFRTE';
          END IF;
          IF (w->>'has_lease')::boolean AND row_agent->'lease_expires_at_ms' IS DISTINCT FROM w->'lease' THEN
            UPDATE agents SET lease_expires_at_ms = (w->>'lease')::bigint WHERE agent_id = aid;
          END IF;
          IF row_agent->>'hostname' IS DISTINCT FROM a->>'hostname' OR row_agent->>'version' IS DISTINCT FROM a->>'version' THEN
            counter := counter + 1;
            rev := counter;
            UPDATE agents SET hostname = a->>'hostname', version = a->>'version', revision = rev WHERE agent_id = aid;
            all_agents := all_agents || aid;
          END IF;
        END IF;
        changed := '[]';
        FOR i IN 0 .. jsonb_array_length(insts) - 1 LOOP
          inst := insts->i;
          o := olds->ids[i + 1];
          -- Same content (jsonb compares the numbers and strings the row holds): nothing to write.
          IF o IS NOT NULL AND o - 'revision' = inst THEN
            CONTINUE;
          END IF;
          changed := changed || inst;
          IF o IS NOT NULL THEN
            svc := svc || (o->>'service');
            IF o->>'service' <> inst->>'service' THEN
              changes := changes || json_build_array(o->>'service', o->>'instance_id', 'd');
              deltas := jsonb_set(deltas, ARRAY[o->>'service'], to_jsonb(coalesce((deltas->>(o->>'service'))::bigint, 0) - 1));
              deltas := jsonb_set(deltas, ARRAY[inst->>'service'], to_jsonb(coalesce((deltas->>(inst->>'service'))::bigint, 0) + 1));
            END IF;
          ELSE
            deltas := jsonb_set(deltas, ARRAY[inst->>'service'], to_jsonb(coalesce((deltas->>(inst->>'service'))::bigint, 0) + 1));
          END IF;
          svc := svc || (inst->>'service');
          changes := changes || json_build_array(inst->>'service', inst->>'instance_id', 'u');
        END LOOP;
        IF jsonb_array_length(changed) > 0 THEN
          IF rev IS NULL THEN
            counter := counter + 1;
            rev := counter;
          END IF;
          INSERT INTO instances (instance_id, service, agent_id, address, port, zone, weight, tags, metadata, health, protocol, revision)
            SELECT r.instance_id, r.service, aid, r.address, r.port, r.zone, r.weight, r.tags, r.metadata, r.health, r.protocol, rev
            FROM jsonb_to_recordset(changed) AS r(instance_id text, service text, address text, port int, zone text, weight int,
              tags text, metadata text, health text, protocol text)
            ON CONFLICT (instance_id) DO UPDATE SET service = excluded.service, agent_id = excluded.agent_id,
              address = excluded.address, port = excluded.port, zone = excluded.zone, weight = excluded.weight,
              tags = excluded.tags, metadata = excluded.metadata, health = excluded.health, protocol = excluded.protocol,
              revision = excluded.revision;
        END IF;
        IF (w->>'replace_all')::boolean THEN
          FOR gone IN DELETE FROM instances WHERE agent_id = aid AND NOT (instance_id = ANY(ids))
              RETURNING instance_id, service LOOP
            IF rev IS NULL THEN
              counter := counter + 1;
              rev := counter;
            END IF;
            svc := svc || gone.service;
            changes := changes || json_build_array(gone.service, gone.instance_id, 'd');
            deltas := jsonb_set(deltas, ARRAY[gone.service], to_jsonb(coalesce((deltas->>gone.service)::bigint, 0) - 1));
          END LOOP;
        END IF;
        IF rev IS NULL THEN
          out := out || json_build_object('ok', true, 'revision', current_rev, 'services', '[]'::json, 'changes', '[]'::json);
          CONTINUE;
        END IF;
        current_rev := greatest(current_rev, rev);
        -- Each service once (the caller sorts them).
        ids := '{}';
        FOREACH s IN ARRAY svc LOOP
          IF NOT (s = ANY(ids)) THEN
            ids := ids || s;
            versions := versions || jsonb_build_object(s, rev);
          END IF;
        END LOOP;
        out := out || json_build_object('ok', true, 'revision', rev, 'services', to_json(ids), 'changes', to_json(changes));
        all_services := all_services || ids;
      END LOOP;
    END IF;
    IF counter > base THEN
      PERFORM setval('registry_revision', counter, true);
      -- service_versions: a service with instances gets its last revision and its count, one without loses its row.
      FOR vs IN SELECT key AS service, value::text::bigint AS revision, coalesce((deltas->>key)::bigint, 0) AS delta
          FROM jsonb_each(versions) LOOP
        UPDATE service_versions SET revision = vs.revision, instance_count = instance_count + vs.delta
          WHERE service = vs.service RETURNING instance_count INTO n;
        IF NOT FOUND OR n <= 0 THEN
          SELECT count(*) INTO n FROM instances WHERE service = vs.service;
          IF n > 0 THEN
            INSERT INTO service_versions (service, revision, instance_count) VALUES (vs.service, vs.revision, n)
              ON CONFLICT (service) DO UPDATE SET revision = excluded.revision, instance_count = excluded.instance_count;
          ELSE
            DELETE FROM service_versions WHERE service = vs.service;
          END IF;
        END IF;
      END LOOP;
      IF notice_channel IS NOT NULL THEN
        all_services := ARRAY(SELECT DISTINCT x FROM unnest(all_services) AS x);
        all_agents := ARRAY(SELECT DISTINCT x FROM unnest(all_agents) AS x);
        payload := replace(notice_template, '"rev":9007199254740991}', '"rev":' || current_rev
          || CASE WHEN cardinality(all_services) > 0 THEN ',"s":' || to_json(all_services)::text ELSE '' END
          || CASE WHEN cardinality(all_agents) > 0 THEN ',"a":' || to_json(all_agents)::text ELSE '' END || '}');
        IF octet_length(payload) > 7900 THEN
          payload := replace(notice_template, '"rev":9007199254740991}',
            '"rev":' || current_rev || ',"after":' || (current_rev - 1) || '}');
        END IF;
        PERFORM pg_notify(notice_channel, payload);
      END IF;
    END IF;
    RETURN QUERY SELECT unnest(out);
  END
  $$;
`;
