target "default" {
  args = {
    JOIN       = join(",", [1, true, "x", 2.5, -0.25])
    JOIN_EMPTY = join("-", [])
    F_S        = format("%s|%s|%s", 1.5, true, "x")
    F_D        = format("%d|%5d|%-5d|%05d", 7, 42, 42, 42)
    F_F        = format("%f|%.2f|%8.3f|%.0f", 3.14159, 3.14159, 3.14159, 2.5)
    F_E        = format("%e|%g|%G", 1234.5678, 0.000012345, 1e21)
    F_T        = format("%t|%t", true, "false")
    F_Q        = format("%q", "say \"hi\"")
    F_V        = format("%v|%v|%v|%v", 1, true, "s", null)
    F_V_LIST   = format("%v", [1, "a", true])
    F_V_MAP    = format("%v", { b = 2, a = "x" })
    F_X        = format("%x|%X|%o|%b", 255, 255, 8, 5)
    F_PCT      = format("100%%")
    F_INDEX    = format("%[2]s-%[1]s", "a", "b")
    FLIST      = join(";", formatlist("%s=%d", ["a", "b"], [1, 2]))
  }
}
