-- A realistic mix of search requests, generated from the catalog's vocabulary with a
-- fixed seed (each wrk thread draws the same sequence):
--   30 % single words, 20 % prefixes (1-4 letters), 25 % two words,
--   10 % three words, 10 % misses, 5 % deep pages (offset up to 2,000).
-- Two-word queries include the ones that cost most with a naive intersection: two short
-- prefixes that both match most of the catalog ("e 1", "s 2").
local series = { "alpha", "beta", "gamma", "delta", "epsilon", "omega", "sigma" }
local nouns = { "speaker", "lamp", "novel", "racket", "puzzle", "kettle", "backpack", "monitor",
                "chair", "blender", "atlas", "drone", "helmet", "notebook", "camera", "mixer",
                "ball", "robot", "shelf", "charger" }
local adjectives = { "compact", "deluxe", "classic", "smart", "portable", "premium", "eco",
                     "rapid", "silent", "vivid" }
local categories = { "electronics", "books", "home", "sports", "toys", "garden", "grocery", "office" }
local models = { "1", "2", "3", "4", "5", "6", "7", "8", "9" }
local misses = { "zebra", "xylophone", "quantum", "alphabet", "12345", "kettles", "zz top" }
local pools = { series, nouns, adjectives, categories, models }

math.randomseed(20261126)
local function pick(t) return t[math.random(#t)] end
local function word() return pick(pools[math.random(#pools)]) end
local function prefix(w) return string.sub(w, 1, math.random(1, math.min(4, #w))) end

local queries = {}
for i = 1, 4000 do
  local r = math.random(100)
  local q, extra = nil, ""
  if r <= 30 then q = word()
  elseif r <= 50 then q = prefix(word())
  elseif r <= 75 then
    local a, b = word(), word()
    if math.random(4) == 1 then a, b = prefix(a), prefix(b) end
    q = a .. "+" .. b
  elseif r <= 85 then q = word() .. "+" .. prefix(word()) .. "+" .. word()
  elseif r <= 95 then q = pick(misses):gsub(" ", "+")
  else q = word(); extra = "&offset=" .. math.random(0, 2000) end
  queries[i] = "/products/search?q=" .. q .. extra
end

local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", queries[(i % #queries) + 1])
end
