variable "CFG" {
  type = object({
    name = string
    port = optional(number)
    tags = optional(list(string))
  })
  default = {
    name  = "x"
    extra = "dropped"
  }
}
variable "LIST" {
  type    = list(object({ a = string, b = optional(bool) }))
  default = [{ a = "1" }, { a = "2", b = true }]
}
target "default" {
  args = {
    NAME      = CFG.name
    PORT_NULL = CFG.port == null
    TAGS_NULL = CFG.tags == null
    JSON      = jsonencode(CFG)
    LIST      = jsonencode(LIST)
  }
}
