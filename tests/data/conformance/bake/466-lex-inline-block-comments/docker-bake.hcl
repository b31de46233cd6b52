target "default" {
  args = {
    A = join(",", [ # c1
      "a", // c2
      /* c3 */ "b"
    ])
    B = true ? "x" /* mid */ : "y"
    C = /* before */ "v"
    D = { x = 1 /* c */, y = 2 }.y
    E = [for x in ["a"] : /* c */ x][0]
    F = upper( /* c */ "q" )
    G = "${"x"}/* kept */"
    H = "a /* kept */ b"
  }
}
