#!/usr/bin/env python3
"""Opens N idle TCP connections to a running demo server, then times decisions
on a new connection: how long until one is answered, and how fast the next ones are.

    scripts/idle_connections.py PORT N TOKEN
"""
import asyncio, json, resource, sys, time, http.client
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
port=int(sys.argv[1]); n=int(sys.argv[2]); token=sys.argv[3]
BODY=json.dumps({"subject":{"type":"Staff","id":"dr-grey"},"action":{"name":"read_lab_result"},"resource":{"type":"LabResult","id":"lr-1","properties":{"patient":{"type":"Patient","id":"p-1001"}}}})
def decide():
    c=http.client.HTTPConnection("127.0.0.1",port,timeout=20)
    t=time.perf_counter()
    try:
        c.request("POST","/demo/access/v1/evaluation",BODY,{"Authorization":"Bearer "+token,"Content-Type":"application/json"})
        ok=c.getresponse().status==200
    except Exception as e:
        ok=False
    return ok,(time.perf_counter()-t)*1000
async def main():
    conns=[]
    for i in range(n):
        try:
            r,w=await asyncio.open_connection("127.0.0.1",port); conns.append(w)
        except OSError as e:
            print("open failed at",i,e); break
    print("opened",len(conns))
    start=time.perf_counter()
    while True:
        ok,ms=await asyncio.to_thread(decide)
        if ok: break
        await asyncio.sleep(0.1)
    print("first decision answered %.2f s after the idle connections were opened (that request %.1f ms)"%(time.perf_counter()-start,ms))
    oks=[await asyncio.to_thread(decide) for _ in range(20)]
    print("next 20 decisions: p50 %.2f ms max %.2f ms"%(sorted(m for _,m in oks)[10],max(m for _,m in oks)))
asyncio.run(main())
