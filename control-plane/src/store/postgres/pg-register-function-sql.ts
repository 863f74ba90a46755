/**
 * The body of `weft_register_batch` as schema migration 9 defines it
 * (pg-migrations.ts; migration 7 created the first version). What it does and
 * answers is stated at migration 7 and in pg-register-function.ts; version 9
 * keeps that contract and changes two things:
 *
 * - It reads the writes as jsonb, parsed once. Version 7 read them as json,
 *   which PostgreSQL parses again at every `->` (a write's fields are read
 *   some thirty times): a quarter of the function's CPU went to the parser.
 * - It keeps `service_versions.instance_count` (migration 9): each write
 *   adds +1 for an instance id new to a service and -1 for one that left it,
 *   and the batch applies the sums with the versions. A row whose count would
 *   not be positive, or that is missing for a service the batch added to, is
 *   counted afresh instead (the rare case: a service emptied or created), so
 *   one wrong count cannot outlive the next change of its service. Replicas'
 *   catch-up reads take the count from there instead of counting the
 *   service's rows at every read (pg-registry-store.ts agentsAndInstances).
 */
export const REGISTER_BATCH_FUNCTION_V9 = `
  CREATE OR REPLACE FUNCTION weft_register_batch(writes json, floor bigint, notice_channel text, notice_template text)
  RETURNS SETOF json LANGUAGE plpgsql AS $$
  DECLARE
    w jsonb;
    a jsonb;
    inst jsonb;
    aid text;
    row_agent agents%ROWTYPE;
    old instances%ROWTYPE;
    gone record;
    pos int;
    vs record;
    existed boolean;
    owner text;
    conflict int;
    base bigint;
    counter bigint;
    current_rev bigint;
    rev bigint;
    n bigint;
    svc text[];
    changes json[];
    keep text[];
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
    FOR w IN SELECT value FROM jsonb_array_elements(writes::jsonb) LOOP
      IF w->>'op' = 'set_health' THEN
        -- As the per-write path's setHealth: the instance must be the agent's; the same health changes nothing.
        aid := w->>'agent_id';
        SELECT * INTO old FROM instances WHERE instance_id = w->>'instance_id';
        IF NOT FOUND OR old.agent_id <> aid THEN
          out := out || json_build_object('ok', false, 'not_found', true);
          CONTINUE;
        END IF;
        IF old.health = w->>'health' THEN
          out := out || json_build_object('ok', true, 'revision', current_rev, 'services', '[]'::json, 'changes', '[]'::json);
          CONTINUE;
        END IF;
        counter := counter + 1;
        rev := counter;
        UPDATE instances SET health = w->>'health', revision = rev WHERE instance_id = old.instance_id;
        current_rev := greatest(current_rev, rev);
        out := out || json_build_object('ok', true, 'revision', rev, 'services', json_build_array(old.service),
          'changes', json_build_array(json_build_array(old.service, old.instance_id, 'h')), 'row', row_to_json(old));
        all_services := all_services || old.service;
        all_agents := all_agents || aid;
        versions := versions || jsonb_build_object(old.service, rev);
        CONTINUE;
      END IF;
      a := w->'agent';
      aid := a->>'agent_id';
      -- An instance id owned by another agent fails this write alone, before it changes anything.
      -- (Lookups one by one by primary key, here and below: a plan the function caches must
      -- never scan the table, whatever its size.)
      conflict := NULL;
      FOR inst, pos IN SELECT t.v, (t.ord - 1)::int FROM jsonb_array_elements(w->'instances') WITH ORDINALITY AS t(v, ord) LOOP
        SELECT agent_id INTO owner FROM instances WHERE instance_id = inst->>'instance_id';
        IF FOUND AND owner <> aid THEN
          conflict := pos;
          EXIT;
        END IF;
      END LOOP;
      IF conflict IS NOT NULL THEN
        out := out || json_build_object('ok', false, 'conflict', conflict, 'owner', owner);
        CONTINUE;
      END IF;
      rev := NULL;
      svc := '{}';
      changes := '{}';
      SELECT * INTO row_agent FROM agents WHERE agent_id = aid;
      IF NOT FOUND THEN
        counter := counter + 1;
        rev := counter;
        INSERT INTO agents (agent_id, hostname, address, inbound_port, zone, version, lease_expires_at_ms, revision)
          VALUES (aid, a->>'hostname', a->>'address', (a->>'inbound_port')::int, a->>'zone', a->>'version',
            CASE WHEN (w->>'has_lease')::boolean THEN (w->>'lease')::bigint END, rev);
      ELSE
        IF row_agent.address IS DISTINCT FROM a->>'address'
          OR row_agent.inbound_port IS DISTINCT FROM (a->>'inbound_port')::int
          OR row_agent.zone IS DISTINCT FROM a->>'zone' THEN
          RAISE EXCEPTION 'agent % moved: its services must be read back', aid USING ERRCODE = 'WFRTE';
        END IF;
        IF (w->>'has_lease')::boolean AND row_agent.lease_expires_at_ms IS DISTINCT FROM (w->>'lease')::bigint THEN
          UPDATE agents SET lease_expires_at_ms = (w->>'lease')::bigint WHERE agent_id = aid;
        END IF;
        IF row_agent.hostname IS DISTINCT FROM a->>'hostname' OR row_agent.version IS DISTINCT FROM a->>'version' THEN
          counter := counter + 1;
          rev := counter;
          UPDATE agents SET hostname = a->>'hostname', version = a->>'version', revision = rev WHERE agent_id = aid;
        END IF;
      END IF;
      keep := '{}';
      FOR inst IN SELECT value FROM jsonb_array_elements(w->'instances') LOOP
        keep := keep || (inst->>'instance_id');
        SELECT * INTO old FROM instances WHERE instance_id = inst->>'instance_id';
        existed := FOUND;
        IF existed AND old.service = inst->>'service' AND old.agent_id = aid AND old.address = inst->>'address'
          AND old.port = (inst->>'port')::int AND old.zone = inst->>'zone' AND old.weight = (inst->>'weight')::int
          AND old.tags = inst->>'tags' AND old.metadata = inst->>'metadata' AND old.health = inst->>'health'
          AND old.protocol = inst->>'protocol' THEN
          CONTINUE;
        END IF;
        IF rev IS NULL THEN
          counter := counter + 1;
          rev := counter;
        END IF;
        INSERT INTO instances (instance_id, service, agent_id, address, port, zone, weight, tags, metadata, health, protocol, revision)
          VALUES (inst->>'instance_id', inst->>'service', aid, inst->>'address', (inst->>'port')::int, inst->>'zone',
            (inst->>'weight')::int, inst->>'tags', inst->>'metadata', inst->>'health', inst->>'protocol', rev)
          ON CONFLICT (instance_id) DO UPDATE SET service = excluded.service, agent_id = excluded.agent_id,
            address = excluded.address, port = excluded.port, zone = excluded.zone, weight = excluded.weight,
            tags = excluded.tags, metadata = excluded.metadata, health = excluded.health, protocol = excluded.protocol,
            revision = excluded.revision;
        IF existed THEN
          svc := svc || old.service;
          IF old.service <> inst->>'service' THEN
            changes := changes || json_build_array(old.service, old.instance_id, 'd');
            deltas := jsonb_set(deltas, ARRAY[old.service], to_jsonb(coalesce((deltas->>old.service)::bigint, 0) - 1));
            deltas := jsonb_set(deltas, ARRAY[inst->>'service'], to_jsonb(coalesce((deltas->>(inst->>'service'))::bigint, 0) + 1));
          END IF;
        ELSE
          deltas := jsonb_set(deltas, ARRAY[inst->>'service'], to_jsonb(coalesce((deltas->>(inst->>'service'))::bigint, 0) + 1));
        END IF;
        svc := svc || (inst->>'service');
        changes := changes || json_build_array(inst->>'service', inst->>'instance_id', 'u');
      END LOOP;
      IF (w->>'replace_all')::boolean THEN
        FOR gone IN DELETE FROM instances WHERE agent_id = aid AND NOT (instance_id = ANY(keep))
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
      svc := ARRAY(SELECT DISTINCT s FROM unnest(svc) AS s);
      out := out || json_build_object('ok', true, 'revision', rev, 'services', to_json(svc), 'changes', to_json(changes));
      all_services := all_services || svc;
      all_agents := all_agents || aid;
      SELECT versions || coalesce(jsonb_object_agg(s, rev), '{}') INTO versions FROM unnest(svc) AS s;
    END LOOP;
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
        all_services := ARRAY(SELECT DISTINCT s FROM unnest(all_services) AS s);
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
