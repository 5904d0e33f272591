/// The worker's state changes as Lua scripts: Redis runs each one whole, so a job is never in
/// two places — popped and started in one step (not lost between the two, as RQ's multi-queue
/// `BLPOP` can lose it), and finished, failed, retried or recovered only by the one caller
/// that removes its entry from the started registry (`rq:wip:<queue>`).
///
/// Keys are RQ 3's: `rq:job:<id>`, `rq:queue:<q>`, `rq:wip:<q>` (members `<job>:<execution>`,
/// scored by when the execution expires), `rq:execution:<job>:<execution>`,
/// `rq:executions:<job>`, `rq:worker:<name>:executions`, `rq:finished:<q>`, `rq:failed:<q>`,
/// `rq:scheduled:<q>`, `rq:results:<job>` (a stream).
enum RQWorkerScripts {

    /// Shared by the scripts that end an execution: removes its records everywhere.
    private static let endExecution = """
        local function end_execution(job, execution, worker)
          local composite = job .. ':' .. execution
          redis.call('DEL', 'rq:execution:' .. composite)
          redis.call('ZREM', 'rq:executions:' .. job, execution)
          if worker ~= '' then redis.call('SREM', 'rq:worker:' .. worker .. ':executions', composite) end
        end
        """

    /// ARGV: worker name, timestamp text, now (seconds), ttl, execution id, mode (`pop` or the
    /// id of a job moved into the first queue's intermediate list), queue names in order.
    /// Returns nil, or `{queue, job, data, timeout, retries_left, retry_intervals, description,
    /// result_ttl, failure_ttl}`.
    static let claim = """
        local worker, stamp, now, ttl, execution, mode = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
        local worker_key = 'rq:worker:' .. worker
        for index = 7, #ARGV do
          local queue = ARGV[index]
          local queue_key = 'rq:queue:' .. queue
          while true do
            local job
            if mode ~= 'pop' then
              if redis.call('LREM', queue_key .. ':intermediate', 1, mode) == 0 then return false end
              job = mode
            else
              job = redis.call('LPOP', queue_key)
            end
            if not job then break end
            local job_key = 'rq:job:' .. job
            if redis.call('EXISTS', job_key) == 1 then
              local composite = job .. ':' .. execution
              redis.call('HSET', job_key, 'status', 'started', 'worker_name', worker, 'started_at', stamp, 'last_heartbeat', stamp)
              redis.call('PERSIST', job_key)
              redis.call('ZADD', 'rq:wip:' .. queue, now + ttl, composite)
              redis.call('HSET', 'rq:execution:' .. composite, 'id', execution, 'job_id', job, 'created_at', now, 'last_heartbeat', now, 'worker_name', worker)
              redis.call('EXPIRE', 'rq:execution:' .. composite, ttl)
              redis.call('ZADD', 'rq:executions:' .. job, now + ttl + 60, execution)
              redis.call('EXPIRE', 'rq:executions:' .. job, ttl + 60)
              redis.call('SADD', worker_key .. ':executions', composite)
              redis.call('EXPIRE', worker_key .. ':executions', ttl + 60)
              if redis.call('EXISTS', worker_key) == 1 then redis.call('HSET', worker_key, 'state', 'busy', 'current_job', job) end
              local fields = redis.call('HMGET', job_key, 'data', 'timeout', 'retries_left', 'retry_intervals', 'description', 'result_ttl', 'failure_ttl')
              return {queue, job, fields[1], fields[2], fields[3], fields[4], fields[5], fields[6], fields[7]}
            end
            if mode ~= 'pop' then return false end
          end
          if mode ~= 'pop' then return false end
        end
        return false
        """

    /// ARGV: queue, job, execution, worker, timestamp text, now, result ttl, return value
    /// (base64 of JSON), seconds worked. Returns 1, or 0 when the execution was no longer this
    /// worker's (recovered as abandoned meanwhile): nothing is changed then.
    static let finish = endExecution + """

        local queue, job, execution, worker, stamp, now, ttl, value, worked = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8], ARGV[9]
        if redis.call('ZREM', 'rq:wip:' .. queue, job .. ':' .. execution) == 0 then return 0 end
        end_execution(job, execution, worker)
        local job_key = 'rq:job:' .. job
        redis.call('HSET', job_key, 'status', 'finished', 'ended_at', stamp)
        local results = 'rq:results:' .. job
        redis.call('XADD', results, 'MAXLEN', '10', '*', 'type', '1', 'worker_name', worker, 'return_value', value,
                   'execution_id', execution, 'execution_ended_at', tostring(now))
        if ttl > 0 then
          redis.call('ZADD', 'rq:finished:' .. queue, now + ttl, job)
          redis.call('EXPIRE', job_key, ttl)
          redis.call('EXPIRE', results, ttl)
        elseif ttl < 0 then
          redis.call('ZADD', 'rq:finished:' .. queue, '+inf', job)
        end
        local worker_key = 'rq:worker:' .. worker
        if redis.call('EXISTS', worker_key) == 1 then
          redis.call('HSET', worker_key, 'state', 'idle', 'current_job', '')
          redis.call('HINCRBY', worker_key, 'successful_job_count', 1)
          redis.call('HINCRBYFLOAT', worker_key, 'total_working_time', worked)
        end
        return 1
        """

    /// Ends an execution that did not succeed. ARGV: queue, job, execution, worker (of the
    /// execution; may be empty), timestamp text, now, mode, exc_info (zlib of the error text),
    /// exc_string (base64 of it), failure ttl default.
    /// Modes: `fail` (retried while retries are left, RQ's `Retry`: at once or after its
    /// interval, else failed), `abandoned` (the same, for a job whose worker stopped
    /// heartbeating, and only while the job still says started), `handback` (back to the front
    /// of its queue, no retry used: the worker was told to stop).
    /// Returns `lost` (not this caller's any more), `gone` (no job hash), `skipped`, `queued`,
    /// `scheduled` or `failed`.
    static let fail = endExecution + """

        local queue, job, execution, worker, stamp, now, mode, exc_info, exc_string, default_ttl =
          ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9], tonumber(ARGV[10])
        if redis.call('ZREM', 'rq:wip:' .. queue, job .. ':' .. execution) == 0 then return 'lost' end
        end_execution(job, execution, worker)
        local job_key = 'rq:job:' .. job
        local worker_key = 'rq:worker:' .. worker
        -- The worker's own record, when it is the one ending the job (a recovery is not).
        local own = mode ~= 'abandoned' and redis.call('EXISTS', worker_key) == 1
        if own then redis.call('HSET', worker_key, 'state', 'idle', 'current_job', '') end
        if redis.call('EXISTS', job_key) == 0 then return 'gone' end
        local fields = redis.call('HMGET', job_key, 'status', 'retries_left', 'retry_intervals', 'failure_ttl')
        if mode == 'abandoned' and fields[1] ~= 'started' then return 'skipped' end
        if mode == 'handback' then
          redis.call('HSET', job_key, 'status', 'queued', 'worker_name', '', 'started_at', '')
          redis.call('LPUSH', 'rq:queue:' .. queue, job)
          return 'queued'
        end
        if own then redis.call('HINCRBY', worker_key, 'failed_job_count', 1) end
        local left = tonumber(fields[2])
        if left and left > 0 then
          local interval = 0
          if fields[3] then
            local intervals = cjson.decode(fields[3])
            if #intervals > 0 then interval = tonumber(intervals[math.max(#intervals - left, 0) + 1]) or 0 end
          end
          redis.call('HSET', job_key, 'retries_left', left - 1, 'worker_name', '')
          if interval > 0 then
            redis.call('HSET', job_key, 'status', 'scheduled')
            redis.call('ZADD', 'rq:scheduled:' .. queue, now + interval, job)
            return 'scheduled'
          end
          redis.call('HSET', job_key, 'status', 'queued', 'enqueued_at', stamp)
          redis.call('RPUSH', 'rq:queue:' .. queue, job)
          return 'queued'
        end
        local ttl = tonumber(fields[4]) or default_ttl
        redis.call('HSET', job_key, 'status', 'failed', 'ended_at', stamp, 'exc_info', exc_info)
        redis.call('ZADD', 'rq:failed:' .. queue, ttl < 0 and '+inf' or now + ttl, job)
        local results = 'rq:results:' .. job
        redis.call('XADD', results, 'MAXLEN', '10', '*', 'type', '2', 'worker_name', worker, 'exc_string', exc_string,
                   'execution_id', execution, 'execution_ended_at', tostring(now))
        if ttl > 0 then
          redis.call('EXPIRE', job_key, ttl)
          redis.call('EXPIRE', results, ttl)
        end
        return 'failed'
        """

    /// Extends an execution: ARGV queue, job, execution, worker, timestamp text, now, ttl.
    /// Returns 0 when the execution is no longer registered (recovered as abandoned).
    static let extend = """
        local queue, job, execution, worker, stamp, now, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
        local composite = job .. ':' .. execution
        if not redis.call('ZSCORE', 'rq:wip:' .. queue, composite) then return 0 end
        redis.call('ZADD', 'rq:wip:' .. queue, now + ttl, composite)
        redis.call('HSET', 'rq:job:' .. job, 'last_heartbeat', stamp)
        redis.call('HSET', 'rq:execution:' .. composite, 'last_heartbeat', now)
        redis.call('EXPIRE', 'rq:execution:' .. composite, ttl)
        redis.call('ZADD', 'rq:executions:' .. job, now + ttl + 60, execution)
        redis.call('EXPIRE', 'rq:worker:' .. worker .. ':executions', ttl + 60)
        return 1
        """

    /// Moves due retries and scheduled jobs into their queues. ARGV: now, timestamp text,
    /// queue names. Returns how many moved.
    static let enqueueDue = """
        local now, stamp, moved = tonumber(ARGV[1]), ARGV[2], 0
        for index = 3, #ARGV do
          local queue = ARGV[index]
          local due = redis.call('ZRANGEBYSCORE', 'rq:scheduled:' .. queue, 0, now, 'LIMIT', 0, 1000)
          for _, job in ipairs(due) do
            redis.call('ZREM', 'rq:scheduled:' .. queue, job)
            if redis.call('EXISTS', 'rq:job:' .. job) == 1 then
              redis.call('HSET', 'rq:job:' .. job, 'status', 'queued', 'enqueued_at', stamp)
              redis.call('RPUSH', 'rq:queue:' .. queue, job)
              moved = moved + 1
            end
          end
        end
        return moved
        """

    /// Jobs left in a queue's intermediate list by a worker that died between moving and
    /// starting them: seen twice a minute apart and not started, they go back to the front of
    /// the queue. ARGV: now, queue names. Returns how many went back.
    static let recoverIntermediate = """
        local now, moved = tonumber(ARGV[1]), 0
        for index = 2, #ARGV do
          local key = 'rq:queue:' .. ARGV[index] .. ':intermediate'
          for _, job in ipairs(redis.call('LRANGE', key, 0, 999)) do
            local seen_key = key .. ':first_seen:' .. job
            local seen = tonumber(redis.call('GET', seen_key))
            if not seen then
              redis.call('SET', seen_key, now, 'EX', 86400)
            elseif now - seen > 60 then
              redis.call('LREM', key, 1, job)
              redis.call('DEL', seen_key)
              if redis.call('HGET', 'rq:job:' .. job, 'status') == 'queued' then
                redis.call('LPUSH', 'rq:queue:' .. ARGV[index], job)
                moved = moved + 1
              end
            end
          end
        end
        return moved
        """
}
