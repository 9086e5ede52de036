-- The original load test's 14 search terms, in rotation.
local terms = { "alpha", "beta", "gamma", "delta", "epsilon", "electronics", "books",
                "home", "sports", "toys", "product", "1", "2", "3" }
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/products/search?q=" .. terms[(i % #terms) + 1])
end
