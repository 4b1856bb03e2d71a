--- A minimal HTTP/1.1 GET over ngx.socket.tcp for the key and revocation
-- timers (Debian 12 ships no lua-resty-http). One request per connection
-- (`Connection: close`), bounded by timeouts and a body size limit, so a
-- hung or hostile backend costs at most `timeout` and `max_body`.

local ngx = ngx
local tonumber, type = tonumber, type
local lower, match, find = string.lower, string.match, string.find
local concat = table.concat

local M = {}

--- Split an http:// or https:// URL.
-- @treturn table `{scheme=, host=, port=, path=}` or nil, message
function M.parse_url(url)
    if type(url) ~= "string" then return nil, "not a string" end
    local scheme, host, port, path = match(url, "^(https?)://([%w%.%-]+):?(%d*)(/?[^#]*)$")
    if not scheme then return nil, "not an http(s) URL: " .. url end
    if path == "" then path = "/" end
    port = tonumber(port) or (scheme == "https" and 443 or 80)
    return { scheme = scheme, host = host, port = port, path = path }
end

--- GET a URL.
-- @tparam table u from `parse_url`
-- @tparam table opts `timeout` (ms, connect/send/read each, default 2000),
--   `max_body` (bytes, default 1 MiB)
-- @treturn number status, table headers (lower-case names), string body;
--   or nil, message
function M.get(u, opts)
    local timeout = opts.timeout or 2000
    local max_body = opts.max_body or 1048576
    local sock = ngx.socket.tcp()
    sock:settimeouts(timeout, timeout, timeout)
    local ok, err = sock:connect(u.host, u.port)
    if not ok then return nil, "connect: " .. tostring(err) end
    if u.scheme == "https" then
        ok, err = sock:sslhandshake(nil, u.host, true)
        if not ok then sock:close() return nil, "tls: " .. tostring(err) end
    end
    local host = u.host
    if (u.scheme == "http" and u.port ~= 80) or (u.scheme == "https" and u.port ~= 443) then
        host = host .. ":" .. u.port
    end
    ok, err = sock:send(concat({ "GET ", u.path, " HTTP/1.1\r\nHost: ", host,
        "\r\nAccept: application/json\r\nUser-Agent: authgw-gateway\r\nConnection: close\r\n\r\n" }))
    if not ok then sock:close() return nil, "send: " .. tostring(err) end
    local line
    line, err = sock:receive("*l")
    if not line then sock:close() return nil, "status line: " .. tostring(err) end
    local status = tonumber(match(line, "^HTTP/1%.[01] (%d%d%d)"))
    if not status then sock:close() return nil, "bad status line" end
    local headers, count = {}, 0
    while true do
        line, err = sock:receive("*l")
        if not line then sock:close() return nil, "headers: " .. tostring(err) end
        if line == "" then break end
        count = count + 1
        if count > 100 then sock:close() return nil, "too many headers" end
        local name, value = match(line, "^([^:]+):%s*(.-)%s*$")
        if name then headers[lower(name)] = value end
    end
    local body
    local length = tonumber(headers["content-length"])
    if length then
        if length > max_body then sock:close() return nil, "body too large" end
        body, err = sock:receive(length)
    elseif headers["transfer-encoding"] and find(lower(headers["transfer-encoding"]), "chunked", 1, true) then
        local parts, total = {}, 0
        while true do
            line, err = sock:receive("*l")
            if not line then break end
            local size = tonumber(match(line, "^%x+"), 16)
            if not size then err = "bad chunk" break end
            if size == 0 then body = concat(parts) break end
            total = total + size
            if total > max_body then err = "body too large" break end
            local chunk
            chunk, err = sock:receive(size)
            if not chunk then break end
            parts[#parts + 1] = chunk
            sock:receive("*l")
        end
    else
        -- No length: read until the peer closes, at most max_body bytes.
        local parts, total = {}, 0
        while true do
            local chunk, e, partial = sock:receive(8192)
            chunk = chunk or partial
            if chunk and chunk ~= "" then
                total = total + #chunk
                if total > max_body then err = "body too large" break end
                parts[#parts + 1] = chunk
            end
            if e == "closed" then body = concat(parts) break end
            if e then err = e break end
        end
    end
    sock:close()
    if not body then return nil, "body: " .. tostring(err) end
    return status, headers, body
end

return M
