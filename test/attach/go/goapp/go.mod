module probec.test/goapp

go 1.19
